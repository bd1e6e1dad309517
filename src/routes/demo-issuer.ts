import { Hono } from "hono";
import { z } from "zod";
import { demoGithubClaims } from "../dev/demo-issuer.js";
import { TrustpubError } from "../errors.js";
import { readJsonObject } from "./body.js";
import type { AppEnv } from "./env.js";
import { parseBody } from "./schemas.js";

const mintBody = z.strictObject({
  audience: z.string().min(1).max(512),
  repository: z.string().min(1).max(256).optional(),
  ref: z.string().min(1).max(256).optional(),
  workflow: z.string().min(1).max(256).optional(),
  environment: z.string().min(1).max(256).optional(),
  event_name: z.string().min(1).max(64).optional(),
});

/** DEVELOPMENT ONLY: the demo CI issuer's discovery, JWKS and token minting, under `/demo`. */
export function demoIssuerRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use("/demo/*", async (c, next) => {
    if (!c.get("services").demo)
      throw new TrustpubError("not_found", "the demo issuer is not enabled");
    await next();
  });
  app.get("/demo/.well-known/openid-configuration", (c) => {
    const demo = c.get("services").demo!;
    return c.json({
      issuer: demo.url,
      jwks_uri: `${demo.url}/jwks`,
      id_token_signing_alg_values_supported: ["RS256"],
      response_types_supported: ["id_token"],
      subject_types_supported: ["public"],
    });
  });
  app.get("/demo/jwks", (c) => c.json(c.get("services").demo!.jwks));
  app.post("/demo/token", async (c) => {
    const services = c.get("services");
    const { audience, ...overrides } = parseBody(
      mintBody,
      await readJsonObject(c, services.config.limits.body_bytes),
    );
    const token = await services.demo!.mint({ aud: audience, ...demoGithubClaims(overrides) });
    return c.json({
      token,
      warning: "development-only demo issuer: never enable it outside a laptop",
    });
  });
  return app;
}
