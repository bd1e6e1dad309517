import { Hono } from "hono";
import { z } from "zod";
import { exchange } from "../exchange/exchange.js";
import { readJsonObject } from "./body.js";
import type { AppEnv } from "./env.js";
import { packageList, parseBody, permissionList, tokenField } from "./schemas.js";

const exchangeBody = z.strictObject({
  token: tokenField,
  packages: packageList.optional(),
  permissions: permissionList.optional(),
});

/** `POST /v1/exchange`: trustpub's own exchange (SPEC section 4). */
export function nativeRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.post("/v1/exchange", async (c) => {
    const services = c.get("services");
    const body = parseBody(
      exchangeBody,
      await readJsonObject(c, services.config.limits.body_bytes),
    );
    const result = await exchange(services.exchangeDeps(), {
      token: body.token,
      packages: body.packages,
      permissions: body.permissions,
      endpoint: "native",
      client: c.get("client"),
    });
    return c.json({
      token: result.token,
      token_type: "Bearer",
      expires_in: result.ttlSeconds,
      expires_at: new Date(result.exp * 1000).toISOString().replace(".000Z", "Z"),
      registry: result.registryId,
      publishers: result.publishers,
      packages: result.packages,
      permissions: result.permissions,
    });
  });
  return app;
}
