import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  verify,
} from "node:crypto";
import { createServer } from "node:http";
import { Redis } from "ioredis";

/**
 * The bare exchange: only the irreducible work, with nothing of trustpub.
 * node:http, parse the JSON body, one RS256 verify (node:crypto), one Redis
 * SET NX, one ES256 sign (node:crypto), a JSON reply. No validation beyond
 * what these steps need; not a service, a yardstick.
 *
 * argv: PORT REDIS_URL ISSUER_PUBLIC_JWK_JSON
 */
const [port, redisUrl, jwkJson] = process.argv.slice(2) as [string, string, string];
const issuerKey = createPublicKey({ key: JSON.parse(jwkJson), format: "jwk" });
const signingKey = createPrivateKey(
  generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({
    type: "pkcs8",
    format: "pem",
  }),
);
const redis = new Redis(redisUrl, { enableOfflineQueue: true });
const header = Buffer.from(JSON.stringify({ alg: "ES256", kid: "bare", typ: "at+jwt" })).toString(
  "base64url",
);

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", async () => {
    try {
      const { token } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { token: string };
      const [h, p, s] = token.split(".") as [string, string, string];
      if (!verify("sha256", Buffer.from(`${h}.${p}`), issuerKey, Buffer.from(s, "base64url"))) {
        res.writeHead(401).end();
        return;
      }
      const claims = JSON.parse(Buffer.from(p, "base64url").toString("utf8")) as {
        iss: string;
        jti: string;
        exp: number;
        sub: string;
      };
      const ok = await redis.set(
        `bare:${claims.iss}:${claims.jti}`,
        "1",
        "PXAT",
        (claims.exp + 30) * 1000,
        "NX",
      );
      if (ok !== "OK") {
        res.writeHead(409).end();
        return;
      }
      const now = Math.floor(Date.now() / 1000);
      const payload = Buffer.from(
        JSON.stringify({
          iss: "https://bare",
          sub: claims.sub,
          aud: "https://registry",
          iat: now,
          exp: now + 900,
          jti: randomBytes(16).toString("base64url"),
        }),
      ).toString("base64url");
      const sig = sign("sha256", Buffer.from(`${header}.${payload}`), {
        key: signingKey,
        dsaEncoding: "ieee-p1363",
      });
      const body = JSON.stringify({ token: `${header}.${payload}.${sig.toString("base64url")}` });
      res.writeHead(200, { "content-type": "application/json" }).end(body);
    } catch {
      res.writeHead(400).end();
    }
  });
});
server.listen(Number(port), "127.0.0.1", () => process.send?.("ready"));
