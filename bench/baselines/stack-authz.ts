import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { compactVerify, importJWK, type JWK } from "jose";

/**
 * The stack's floor for forward auth: read the bearer token, one ES256
 * verify with jose, answer 200 or 401, on Hono and @hono/node-server.
 *
 * argv: PORT PUBLIC_JWK_JSON (the key that signed the token)
 */
const [port, jwkJson] = process.argv.slice(2) as [string, string];
const key = await importJWK(JSON.parse(jwkJson) as JWK, "ES256");

const app = new Hono();
app.get("/v1/authz", async (c) => {
  const auth = c.req.header("authorization") ?? "";
  const token = auth.startsWith("Bearer ") ? auth.slice(7) : "";
  try {
    await compactVerify(token, key, { algorithms: ["ES256"] });
    return c.body(null, 200);
  } catch {
    return c.body(null, 401);
  }
});

serve({ fetch: app.fetch, port: Number(port), hostname: "127.0.0.1" }, () =>
  process.send?.("ready"),
);
