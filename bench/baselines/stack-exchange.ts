import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { Redis } from "ioredis";
import { compactVerify, generateKeyPair, importJWK, type JWK, SignJWT } from "jose";

/**
 * The stack's floor for an exchange: the bare pipeline's steps (parse the
 * JSON body, one RS256 verify, one SET NX, one ES256 sign, a JSON reply)
 * written with trustpub's fixed stack, Hono on @hono/node-server and jose
 * (WebCrypto), and nothing else. What it loses to the bare baseline is the
 * stack's cost; what trustpub loses to it is trustpub's own.
 *
 * argv: PORT REDIS_URL ISSUER_PUBLIC_JWK_JSON
 */
const [port, redisUrl, jwkJson] = process.argv.slice(2) as [string, string, string];
const issuerKey = await importJWK(JSON.parse(jwkJson) as JWK, "RS256");
const { privateKey } = await generateKeyPair("ES256");
const redis = new Redis(redisUrl, { enableOfflineQueue: true });
const decoder = new TextDecoder();

const app = new Hono();
app.post("/v1/exchange", async (c) => {
  const { token } = await c.req.json<{ token: string }>();
  const { payload } = await compactVerify(token, issuerKey, { algorithms: ["RS256"] });
  const claims = JSON.parse(decoder.decode(payload)) as {
    iss: string;
    jti: string;
    exp: number;
    sub: string;
  };
  const ok = await redis.set(
    `stack:${claims.iss}:${claims.jti}`,
    "1",
    "PXAT",
    (claims.exp + 30) * 1000,
    "NX",
  );
  if (ok !== "OK") return c.body(null, 409);
  const issued = await new SignJWT({ sub: claims.sub, aud: "https://registry" })
    .setProtectedHeader({ alg: "ES256", kid: "stack", typ: "at+jwt" })
    .setIssuer("https://stack")
    .setIssuedAt()
    .setExpirationTime("15m")
    .setJti(crypto.randomUUID())
    .sign(privateKey);
  return c.json({ token: issued });
});
app.onError((_err, c) => c.body(null, 400));

serve({ fetch: app.fetch, port: Number(port), hostname: "127.0.0.1" }, () =>
  process.send?.("ready"),
);
