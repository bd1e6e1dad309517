import { type Context, Hono } from "hono";
import { z } from "zod";
import { errorBody, errorHeaders, TrustpubError } from "../errors.js";
import { explain } from "../exchange/explain.js";
import { InvalidPublisher } from "../policy/admin-store.js";
import type { AuditEvent } from "../telemetry/audit.js";
import { requireAdmin } from "./admin-auth.js";
import { readJsonObject } from "./body.js";
import type { AppEnv, ErrorShape } from "./env.js";
import { packageList, parseBody, permissionList, tokenField } from "./schemas.js";

/** The native body, plus every problem of a refused publisher, plus the Bearer challenge. */
export const adminErrorShape: ErrorShape = (err) => {
  const headers = errorHeaders(err);
  if (err.reason === "unauthorized") headers["WWW-Authenticate"] = 'Bearer realm="trustpub-admin"';
  const problems = err instanceof InvalidPublisher ? { problems: err.problems } : {};
  return Response.json({ ...errorBody(err), ...problems }, { status: err.status, headers });
};

const explainBody = z.strictObject({
  token: tokenField,
  packages: packageList.optional(),
  permissions: permissionList.optional(),
});

const publisherId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/);

/**
 * `GET/PUT/DELETE /v1/admin/publishers[/{id}]` and `POST /v1/admin/explain`
 * (SPEC section 4), behind an admin bearer token. Every change and every
 * refusal is an audit event (`trustpub.admin`).
 */
export function adminRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use("/v1/admin/*", async (c, next) => {
    c.set("errorShape", adminErrorShape);
    await next();
  });
  app.use("/v1/admin/*", requireAdmin());

  const store = (c: Context<AppEnv>) => {
    const admin = c.get("services").admin;
    if (!admin) throw new TrustpubError("not_found", "the admin publisher store is not enabled");
    return admin;
  };
  const audit = (c: Context<AppEnv>, event: Omit<AuditEvent, "type" | "time" | "endpoint">) => {
    const services = c.get("services");
    services.runtime.audit.emit({
      type: "trustpub.admin",
      time: new Date(services.runtime.clock.now()).toISOString(),
      endpoint: "admin",
      actor: c.get("adminActor"),
      client: c.get("client"),
      ...event,
    });
  };
  const idParam = (value: string) => {
    if (!publisherId.safeParse(value).success)
      throw new TrustpubError("malformed_request", "the publisher id is not valid");
    return value;
  };

  app.get("/v1/admin/publishers", async (c) => {
    const admin = store(c);
    return c.json({ version: admin.version(), publishers: await admin.list() });
  });

  app.get("/v1/admin/publishers/:id", async (c) => {
    const entry = await store(c).get(idParam(c.req.param("id")));
    if (!entry) throw new TrustpubError("not_found", "no publisher with this id");
    return c.json(entry);
  });

  app.put("/v1/admin/publishers/:id", async (c) => {
    const admin = store(c);
    const id = idParam(c.req.param("id"));
    const body = await readJsonObject(c, c.get("services").config.limits.body_bytes);
    try {
      const { created, publisher } = await admin.put(id, body);
      audit(c, {
        outcome: "success",
        action: "put",
        publisher: id,
        change: created ? "created" : "replaced",
      });
      return c.json({ publisher, source: "admin" }, created ? 201 : 200);
    } catch (err) {
      if (err instanceof TrustpubError) {
        audit(c, {
          outcome: err.reason === "unavailable" ? "error" : "refused",
          reason: err.reason,
          action: "put",
          publisher: id,
          problems: err instanceof InvalidPublisher ? err.problems : undefined,
        });
      }
      throw err;
    }
  });

  app.delete("/v1/admin/publishers/:id", async (c) => {
    const admin = store(c);
    const id = idParam(c.req.param("id"));
    let removed: boolean;
    try {
      removed = await admin.remove(id);
    } catch (err) {
      if (err instanceof TrustpubError) {
        audit(c, {
          outcome: err.reason === "unavailable" ? "error" : "refused",
          reason: err.reason,
          action: "delete",
          publisher: id,
        });
      }
      throw err;
    }
    if (!removed) throw new TrustpubError("not_found", "no admin publisher with this id");
    audit(c, { outcome: "success", action: "delete", publisher: id });
    return c.body(null, 204);
  });

  app.post("/v1/admin/explain", async (c) => {
    const services = c.get("services");
    const body = parseBody(explainBody, await readJsonObject(c, services.config.limits.body_bytes));
    const explanation = await explain(services.exchangeDeps(), body);
    audit(c, {
      outcome: "success",
      action: "explain",
      reason: explanation.reason,
      registry: explanation.registry,
      ci: explanation.issuer ? { issuer: explanation.issuer } : undefined,
    });
    return c.json(explanation);
  });
  return app;
}
