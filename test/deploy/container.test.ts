import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmod,
  cp,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { promisify } from "node:util";
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generatePrivateJwk } from "../../src/tokens/keys.js";
import { githubClaims } from "../support/claims.js";
import { type Dockerfile, last, parseDockerfile, stageEnv } from "../support/dockerfile.js";
import { startIssuer, type TestIssuer } from "../support/issuer.js";
import { freePort } from "../support/ports.js";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook.js";

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "../..");
const ISSUER = "https://sts.container.test";
const AUDIENCE = "npm:registry.container.test";
const NOBODY = 65534;

let dockerfile: Dockerfile;
let image: string;

describe("Dockerfile", () => {
  beforeAll(async () => {
    dockerfile = parseDockerfile(await readFile(join(ROOT, "Dockerfile"), "utf8"));
  });

  it("builds in stages from a pinned Node LTS base", () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(3);
    for (const stage of dockerfile.stages) {
      expect(stage.from).toMatch(
        /^node:22\.\d+\.\d+-(bookworm-slim|alpine\d+\.\d+)(@sha256:[0-9a-f]{64})?$/,
      );
    }
  });

  it("ships production dependencies only, installed exactly as locked", () => {
    const runtime = dockerfile.stages.at(-1)!;
    const copies = runtime.instructions.filter(
      (i) => i.op === "COPY" && i.args.includes("--from="),
    );
    const nodeModules = copies.find((c) => c.args.includes("node_modules"))!;
    const from = /--from=(\S+)/.exec(nodeModules.args)![1];
    const deps = dockerfile.stages.find((s) => s.name === from)!;
    expect(
      deps.instructions.some((i) => i.op === "RUN" && /npm ci\b.*--omit=dev/.test(i.args)),
    ).toBe(true);
    expect(
      deps.instructions.some((i) => i.op === "COPY" && i.args.includes("package-lock.json")),
    ).toBe(true);
    expect(copies.map((c) => /--from=(\S+)/.exec(c.args)![1])).not.toContain(undefined);
  });

  it("runs as the unprivileged node user with `node dist/cli.js serve`", () => {
    const runtime = dockerfile.stages.at(-1)!;
    expect(last(runtime, "USER")).toBe("node");
    expect(JSON.parse(last(runtime, "ENTRYPOINT")!)).toEqual(["node", "dist/cli.js"]);
    expect(JSON.parse(last(runtime, "CMD")!)).toEqual(["serve"]);
    expect(stageEnv(runtime)).toMatchObject({ NODE_ENV: "production", PORT: "8080" });
  });
});

/**
 * No Docker engine runs here, so the image's last stage is reproduced on
 * disk: the same build output (tsc with tsconfig.build.json), the production
 * dependencies only (the packages `npm ls --omit=dev` names, as
 * `npm ci --omit=dev` installs them), the same files, owned by another user
 * and not writable, then the image's ENTRYPOINT + CMD run from its WORKDIR
 * with its ENV, as an unprivileged user.
 */
describe("the image's entrypoint, run from the same build output", () => {
  let issuer: TestIssuer;
  let collector: WebhookReceiver;
  let etc: string;
  let child: ChildProcess;
  let url: string;
  let output = "";
  let keyA: Awaited<ReturnType<typeof generatePrivateJwk>>;
  let keyB: Awaited<ReturnType<typeof generatePrivateJwk>>;
  const exits: Promise<number | null>[] = [];

  const config = (publisherRepository = "acme/demo") =>
    [
      `issuer: ${ISSUER}`,
      "signing: { keys_file: signing.jwks.json }",
      "shutdown: { delay: 200ms, drain_timeout: 2s }",
      "ci_issuers:",
      `  github: { url: "${issuer.url}", provider: github, allow_http: true }`,
      "registries:",
      `  npm: { flavor: npm, audience: "${AUDIENCE}", token_audience: https://registry.container.test }`,
      "publishers:",
      "  - id: acme-demo",
      "    registry: npm",
      "    ci_issuer: github",
      `    match: { repository: ${publisherRepository}, repository_owner_id: "1234567" }`,
      '    packages: ["@acme/demo"]',
      "",
    ].join("\n");
  const writeKeys = (keys: [typeof keyA, string][]) =>
    writeFile(
      join(etc, "signing.jwks.json"),
      JSON.stringify({ keys: keys.map(([k, status]) => ({ ...k, status })) }),
    );
  const exchange = async () => {
    const token = await issuer.sign(githubClaims(issuer.url, AUDIENCE));
    const res = await fetch(`${url}/v1/exchange`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token }),
    });
    return { ci: token, status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const jwks = async () =>
    (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
  const waitFor = async (
    what: string,
    check: () => Promise<boolean> | boolean,
    timeoutMs = 15_000,
  ) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}; output:\n${output.slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  beforeAll(async () => {
    dockerfile ??= parseDockerfile(await readFile(join(ROOT, "Dockerfile"), "utf8"));
    const runtime = dockerfile.stages.at(-1)!;
    const workdir = last(runtime, "WORKDIR")!;
    image = await mkdtemp(join(tmpdir(), "trustpub-image-"));
    const app = join(image, workdir);
    await mkdir(app, { recursive: true });

    // Same build output as the build stage's `npm run build` (.ci/run builds before testing;
    // a dist/ older than src/ is rebuilt here with the same tsconfig.build.json).
    if (await freshBuild()) {
      await cp(join(ROOT, "dist"), join(app, "dist"), { recursive: true });
    } else {
      await run(
        process.execPath,
        [
          join(ROOT, "node_modules/typescript/bin/tsc"),
          "-p",
          "tsconfig.build.json",
          "--outDir",
          join(app, "dist"),
        ],
        {
          cwd: ROOT,
          timeout: 170_000,
        },
      );
    }
    // Production dependencies only.
    const { stdout } = await run("npm", ["ls", "--omit=dev", "--all", "--parseable"], {
      cwd: ROOT,
      maxBuffer: 16 * 1024 * 1024,
    });
    const packages = stdout
      .split("\n")
      .map((p) => p.trim())
      .filter((p) => p.startsWith(join(ROOT, "node_modules")))
      .sort();
    let copied: string | undefined;
    for (const dir of packages) {
      if (copied && dir.startsWith(`${copied}/`)) continue;
      await cp(dir, join(app, relative(ROOT, dir)), { recursive: true, verbatimSymlinks: true });
      copied = dir;
    }
    await cp(join(ROOT, "package.json"), join(app, "package.json"));
    await cp(join(ROOT, "examples"), join(app, "examples"), { recursive: true });
    // Read-only for the user that runs it.
    await run("chmod", ["-R", "a+rX,go-w", image]);
    if (process.getuid?.() !== 0) await run("chmod", ["-R", "a-w", image]);
    await chmod(image, 0o555);

    issuer = await startIssuer();
    collector = await startWebhookReceiver();
    etc = await mkdtemp(join(tmpdir(), "trustpub-etc-"));
    await chmod(etc, 0o755);
    [keyA, keyB] = await Promise.all([generatePrivateJwk("ES256"), generatePrivateJwk("ES256")]);
    await writeKeys([
      [keyA, "current"],
      [keyB, "next"],
    ]);
    await writeFile(join(etc, "config.yaml"), config());
    await run("chmod", ["-R", "a+rX", etc]);

    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const [command, ...entryArgs] = [
      ...JSON.parse(last(runtime, "ENTRYPOINT")!),
      ...JSON.parse(last(runtime, "CMD")!),
    ] as string[];
    expect(command).toBe("node");
    const root = process.getuid?.() === 0;
    child = spawn(process.execPath, entryArgs, {
      cwd: app,
      env: {
        PATH: process.env.PATH,
        HOME: "/nonexistent",
        ...stageEnv(runtime),
        // What `docker run -e ... -v /etc/trustpub` would change.
        TRUSTPUB_CONFIG: join(etc, "config.yaml"),
        PORT: String(port),
        HOST: "127.0.0.1",
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url.replace(/\/audit$/, ""),
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_BSP_SCHEDULE_DELAY: "50",
        OTEL_METRICS_EXPORTER: "none",
        OTEL_LOGS_EXPORTER: "none",
      },
      stdio: ["ignore", "pipe", "pipe"],
      ...(root ? { uid: NOBODY, gid: NOBODY } : {}),
    });
    child.stdout!.on("data", (c: Buffer) => {
      output += c.toString();
    });
    child.stderr!.on("data", (c: Buffer) => {
      output += c.toString();
    });
    exits.push(new Promise((resolve) => child.once("exit", (code) => resolve(code))));
    await waitFor("trustpub to serve", () => output.includes("trustpub is serving"), 30_000);
  }, 180_000);

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exits[0];
    }
    await Promise.all([issuer?.stop(), collector?.stop()]);
    if (image) {
      await run("chmod", ["-R", "u+w", image]).catch(() => {});
      await rm(image, { recursive: true, force: true });
    }
    if (etc) await rm(etc, { recursive: true, force: true });
  });

  it("serves as an unprivileged user from files it cannot write", async () => {
    const status = await readFile(`/proc/${child.pid}/status`, "utf8");
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)![1]);
    expect(uid).toBe(process.getuid?.() === 0 ? NOBODY : process.getuid?.());
    expect(uid).not.toBe(0);
    const mode = (
      await stat(join(image, last(dockerfile.stages.at(-1)!, "WORKDIR")!, "dist/cli.js"))
    ).mode;
    expect(mode & 0o022).toBe(0);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
  });

  it("exchanges, writes audit JSON lines to stdout and exports spans", async () => {
    const res = await exchange();
    expect(res.status).toBe(200);
    await waitFor("the audit line", () => output.includes('"type":"trustpub.exchange"'));
    const line = output.split("\n").find((l) => l.includes('"type":"trustpub.exchange"'))!;
    expect(JSON.parse(line)).toMatchObject({
      audit: true,
      outcome: "success",
      publishers: ["acme-demo"],
    });
    expect(output).not.toContain(res.ci);
    expect(output).not.toContain(res.body.token as string);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain(
      'trustpub_exchanges_total{outcome="success",reason="",endpoint="native",issuer="github",registry="npm"} 1',
    );
    await waitFor("spans at the collector", () =>
      collector.received.some((r) => r.path === "/v1/traces"),
    );
  });

  it("rotates signing keys on SIGHUP without failing a verification", async () => {
    const before = await exchange();
    expect(decodeProtectedHeader(before.body.token as string).kid).toBe(keyA.kid);
    const cached = await jwks();
    await writeKeys([
      [keyA, "retired"],
      [keyB, "current"],
    ]);
    child.kill("SIGHUP");
    await waitFor("the reload", () => output.includes("config reloaded"));
    const after = await exchange();
    expect(decodeProtectedHeader(after.body.token as string).kid).toBe(keyB.kid);
    const verify = (set: JSONWebKeySet, token: string) =>
      jwtVerify(token, createLocalJWKSet(set), { issuer: ISSUER });
    await expect(verify(cached, after.body.token as string)).resolves.toBeTruthy();
    await expect(verify(await jwks(), before.body.token as string)).resolves.toBeTruthy();
  });

  it("keeps serving the old config when the new one is invalid, logging every problem", async () => {
    await writeFile(
      join(etc, "config.yaml"),
      config("[not, a, string]").replace('packages: ["@acme/demo"]', "packages: []"),
    );
    const mark = output.length;
    child.kill("SIGHUP");
    await waitFor("the refusal", () => output.slice(mark).includes("config reload refused"));
    const refusals = output
      .slice(mark)
      .split("\n")
      .filter((l) => l.includes("config reload refused"))
      .map((l) => JSON.parse(l).problem as string);
    expect(refusals).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^publishers\[0\]\.packages: /),
        expect.stringMatching(/^publishers\[0\]\.match\.repository: /),
      ]),
    );
    expect((await exchange()).status).toBe(200);
  });

  it("prints an admin token and the hash the config lists for it", async () => {
    const app = join(image, last(dockerfile.stages.at(-1)!, "WORKDIR")!);
    const { stdout } = await run(process.execPath, ["dist/cli.js", "admin", "token"], { cwd: app });
    const token = /^token: (\S+)$/m.exec(stdout)![1]!;
    const hash = /^token_sha256: ([0-9a-f]{64})$/m.exec(stdout)![1];
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(hash).toBe(createHash("sha256").update(token).digest("hex"));
  });

  it("stops on SIGTERM: unready first, then exits 0", async () => {
    child.kill("SIGTERM");
    await waitFor(
      "unready",
      async () =>
        (await fetch(`${url}/readyz`).then(
          (r) => r.status,
          () => 0,
        )) !== 200,
    );
    expect(await exits[0]).toBe(0);
    expect(output).toContain('"msg":"stopped"');
  });
});

/** True when dist/ holds a build at least as new as every file under src/. */
async function freshBuild(): Promise<boolean> {
  const built = await stat(join(ROOT, "dist/cli.js")).catch(() => undefined);
  if (!built) return false;
  const sources = await readdir(join(ROOT, "src"), { recursive: true, withFileTypes: true });
  for (const entry of sources) {
    if (!entry.isFile() || !entry.name.endsWith(".ts")) continue;
    const source = await stat(join(entry.parentPath, entry.name));
    if (source.mtimeMs > built.mtimeMs) return false;
    const output = join(
      ROOT,
      "dist",
      relative(join(ROOT, "src"), join(entry.parentPath, entry.name)),
    ).replace(/\.ts$/, ".js");
    if (!(await stat(output).catch(() => undefined))) return false;
  }
  return true;
}
