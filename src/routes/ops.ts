import { Hono } from "hono";
import type { AppEnv } from "./env.js";

/** `/healthz` (the process answers) and `/readyz` (it can exchange now). */
export function opsRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) => {
    const services = c.get("services");
    const checks: Record<string, "ok" | "fail"> = {
      draining: services.lifecycle.draining ? "fail" : "ok",
      signing_keys: services.keys.current ? "ok" : "fail",
      replay_store: "ok",
    };
    try {
      await services.replay.ping();
    } catch {
      checks.replay_store = "fail";
    }
    // With the admin API on, an exchange needs the shared publishers loaded once.
    const admin = services.runtime.adminPublishers;
    if (admin) {
      const loaded = admin.snapshot().version >= 0 || (await admin.refresh());
      checks.publishers = loaded && admin.snapshot().version >= 0 ? "ok" : "fail";
    }
    const ready = Object.values(checks).every((v) => v === "ok");
    return c.json({ status: ready ? "ready" : "unready", checks }, ready ? 200 : 503);
  });
  return app;
}
