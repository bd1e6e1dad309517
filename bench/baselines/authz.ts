import { createPublicKey, verify } from "node:crypto";
import { createServer } from "node:http";

/**
 * The bare forward-auth check: read the bearer token, one ES256 verify
 * (node:crypto), answer 200 or 401. The yardstick for GET /v1/authz.
 *
 * argv: PORT PUBLIC_JWK_JSON (the key that signed the token)
 */
const [port, jwkJson] = process.argv.slice(2) as [string, string];
const key = createPublicKey({ key: JSON.parse(jwkJson), format: "jwk" });

const server = createServer((req, res) => {
  const auth = req.headers.authorization ?? "";
  const token = auth.startsWith("Bearer ") ? auth.slice(7) : "";
  const [h, p, s] = token.split(".");
  const ok =
    h &&
    p &&
    s &&
    verify(
      "sha256",
      Buffer.from(`${h}.${p}`),
      { key, dsaEncoding: "ieee-p1363" },
      Buffer.from(s, "base64url"),
    );
  res.writeHead(ok ? 200 : 401).end();
  req.resume();
});
server.listen(Number(port), "127.0.0.1", () => process.send?.("ready"));
