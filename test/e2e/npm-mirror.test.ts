import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfigText } from "../../src/config/load.js";
import { type RunningServer, startServer } from "../../src/server.js";
import { memoryAudit } from "../../src/telemetry/audit.js";
import { memoryLogger } from "../../src/telemetry/logger.js";
import { githubClaims, gitlabClaims } from "../support/claims.js";
import { startIssuer, type TestIssuer } from "../support/issuer.js";
import { freePort } from "../support/ports.js";
import { type RedisProcess, startRedis } from "../support/redis.js";
import { type ActionsTokenEndpoint, startActionsTokenEndpoint } from "./support/actions-token.js";
import { type Nginx, startNginx } from "./support/nginx.js";
import { packageDir, runNpm } from "./support/npm-cli.js";
import { step } from "./support/process.js";
import { startVerdaccio, type Verdaccio } from "./support/verdaccio.js";

/**
 * The private npm mirror of deploy/npm-mirror, end to end: the real npm CLI
 * publishes through the real nginx (auth_request to trustpub) into the real
 * Verdaccio, with CI tokens from local GitHub Actions and GitLab issuers.
 */
const DEPLOY = fileURLToPath(new URL("../../deploy/npm-mirror/", import.meta.url));
/** What the npm CLI asks GitHub Actions for: npm:<registry hostname>, without the port. */
const NPM_AUDIENCE = "npm:127.0.0.1";

let dir: string;
let home: string;
let github: TestIssuer;
let gitlab: TestIssuer;
let redis: RedisProcess;
let trustpub: RunningServer;
let verdaccio: Verdaccio;
let nginx: Nginx;
let actions: ActionsTokenEndpoint;
const audit = memoryAudit();
let registry: string;

/** The deploy example's trustpub config, pointed at this run's issuers, Redis and registry URL. */
function trustpubConfig(nginxPort: number): Record<string, unknown> {
  const config = parseConfigText(readFileSync(join(DEPLOY, "trustpub.yaml"), "utf8")) as Record<
    string,
    // biome-ignore lint/suspicious/noExplicitAny: a parsed YAML document, edited in place
    any
  >;
  config.issuer = "http://127.0.0.1:1/trustpub";
  delete config.signing;
  config.replay = { redis: redis.url };
  config.shutdown = { delay: "0s", drain_timeout: "2s" };
  config.ci_issuers.github = { url: github.url, provider: "github", allow_http: true };
  config.ci_issuers.gitlab = { url: gitlab.url, provider: "gitlab", allow_http: true };
  const npm = config.registries["npm-internal"];
  npm.audience = NPM_AUDIENCE;
  npm.token_audience = `http://127.0.0.1:${nginxPort}`;
  return config;
}

const gitlabToken = (overrides = {}) =>
  gitlab.sign(gitlabClaims(gitlab.url, NPM_AUDIENCE, overrides));
const exchangeThroughNginx = (name: string, ciToken: string) =>
  fetch(`${registry}-/npm/v1/oidc/token/exchange/package/${name.replace("/", "%2f")}`, {
    method: "POST",
    headers: { authorization: `Bearer ${ciToken}` },
  });
const publish = (what: string, name: string, version: string, env: Record<string, string> = {}) =>
  runNpm(what, ["publish", "--ignore-scripts"], {
    cwd: packageDir(dir, name, version),
    home,
    registry,
    env,
  });
/** A user config holding a trustpub token for the registry, as `npm publish` reads it. */
const useToken = (token: string) => {
  const host = registry.replace(/^http:/, "");
  writeFileSync(join(home, ".npmrc"), `${host}:_authToken=${token}\n`);
};
const lastAccess = (needle: string) =>
  nginx
    .accessLog()
    .filter((l) => l.includes(needle))
    .at(-1);
const exchanges = () =>
  audit.events.filter((e) => e.type === "trustpub.exchange" && e.endpoint === "npm");

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "trustpub-e2e-"));
  home = join(dir, "home");
  step(`working in ${dir}`);
  step("starting the local CI issuers, Redis and the Actions ID token endpoint");
  github = await startIssuer({ alg: "RS256" });
  gitlab = await startIssuer({ alg: "RS256", path: "/gitlab" });
  redis = await startRedis();
  actions = await startActionsTokenEndpoint((audience) =>
    github.sign(githubClaims(github.url, audience)),
  );

  const [nginxPort, verdaccioPort] = [await freePort(), await freePort()];
  registry = `http://127.0.0.1:${nginxPort}/`;
  step("starting trustpub with deploy/npm-mirror/trustpub.yaml");
  trustpub = await startServer({
    config: trustpubConfig(nginxPort),
    env: {},
    port: 0,
    host: "127.0.0.1",
    audit,
    logger: memoryLogger(),
  });
  verdaccio = await startVerdaccio({
    dir: join(dir, "verdaccio"),
    deployConf: join(DEPLOY, "verdaccio.yaml"),
    port: verdaccioPort,
  });
  nginx = await startNginx({
    dir: join(dir, "nginx"),
    deployConf: join(DEPLOY, "nginx.conf"),
    port: nginxPort,
    trustpubPort: trustpub.port,
    verdaccioPort,
  });
  step(`the registry is ${registry}`);
});

afterAll(async () => {
  step("stopping nginx, Verdaccio, trustpub, Redis and the issuers");
  await nginx?.proc.stop();
  await verdaccio?.proc.stop();
  await trustpub?.shutdown();
  await Promise.all([actions?.close(), github?.stop(), gitlab?.stop(), redis?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("a private npm registry behind nginx and trustpub", () => {
  let gitlabCiToken: string;
  let issued: string;

  it("publishes from GitLab CI: the npm CLI trades NPM_ID_TOKEN for a trustpub token", async () => {
    gitlabCiToken = await gitlabToken();
    const run = await publish("GitLab mode", "@acme/demo", "1.0.0", {
      CI: "true",
      GITLAB_CI: "true",
      NPM_ID_TOKEN: gitlabCiToken,
    });
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain("+ @acme/demo@1.0.0");
    expect(await verdaccio.versions("@acme/demo")).toEqual(["1.0.0"]);
    expect(exchanges().map((e) => [e.outcome, e.ci?.issuer])).toEqual([["success", "gitlab"]]);
    expect(lastAccess("PUT /@acme%2fdemo ")).toMatch(
      /" 201 subject="ci:gitlab:project_path:acme\/demo:ref_type:tag:ref:v1\.2\.3" repository="https:\/\/gitlab\.example\/acme\/demo" ref="refs\/tags\/v1\.2\.3" sha="[0-9a-f]{40}"$/,
    );
  });

  it("publishes from GitHub Actions: the npm CLI requests its own ID token", async () => {
    const run = await publish("GitHub Actions mode", "@acme/demo", "1.1.0", {
      CI: "true",
      GITHUB_ACTIONS: "true",
      ACTIONS_ID_TOKEN_REQUEST_URL: actions.requestUrl,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: actions.requestToken,
    });
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain("+ @acme/demo@1.1.0");
    expect(actions.audiences).toEqual([NPM_AUDIENCE]);
    expect(await verdaccio.versions("@acme/demo")).toEqual(["1.0.0", "1.1.0"]);
    expect(exchanges().at(-1)).toMatchObject({ outcome: "success", ci: { issuer: "github" } });
    expect(lastAccess("PUT /@acme%2fdemo ")).toContain(
      '" 201 subject="ci:github:repo:acme/demo:environment:release" repository="acme/demo"',
    );
  });

  it("refuses the same CI token a second time", async () => {
    const run = await publish("GitLab mode, the CI token again", "@acme/demo", "1.2.0", {
      CI: "true",
      GITLAB_CI: "true",
      NPM_ID_TOKEN: gitlabCiToken,
    });
    // The exchange is refused, so the CLI has no token and will not publish.
    expect(run.code).not.toBe(0);
    expect(run.output).toContain("ENEEDAUTH");
    expect(exchanges().at(-1)).toMatchObject({ outcome: "refused", reason: "replayed_token" });
    expect(await verdaccio.versions("@acme/demo")).toEqual(["1.0.0", "1.1.0"]);

    const direct = await exchangeThroughNginx("@acme/demo", gitlabCiToken);
    expect(direct.status).toBe(409);
    expect(await direct.json()).toEqual({
      message: "OIDC token exchange error - token has already been used",
    });
  });

  it("refuses a package outside the publisher's grant, at the exchange and at nginx", async () => {
    const viaOidc = await publish("GitLab mode, a package not granted", "@acme/other", "1.0.0", {
      CI: "true",
      GITLAB_CI: "true",
      NPM_ID_TOKEN: await gitlabToken(),
    });
    expect(viaOidc.code).not.toBe(0);
    expect(viaOidc.output).toContain("ENEEDAUTH");
    expect(exchanges().at(-1)).toMatchObject({ outcome: "refused", reason: "scope_exceeded" });

    // A valid trustpub token for @acme/demo, presented for another package.
    const res = await exchangeThroughNginx("@acme/demo", await gitlabToken());
    expect(res.status).toBe(201);
    issued = ((await res.json()) as { token: string }).token;
    useToken(issued);
    const run = await publish("a trustpub token for @acme/demo", "@acme/other", "1.0.0");
    expect(run.code).not.toBe(0);
    expect(run.output).toContain("E403");
    expect(lastAccess("PUT /@acme%2fother ")).toContain('" 403 subject=""');
    expect(await verdaccio.versions("@acme/other")).toEqual([]);
  });

  it("refuses a revoked token", async () => {
    useToken(issued);
    const before = await publish("the trustpub token, before revoking it", "@acme/demo", "1.2.0");
    expect(before.code, before.output).toBe(0);

    step("revoking the token at trustpub (RFC 7009)");
    const revoke = await fetch(`${trustpub.url}/v1/revoke`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: issued }).toString(),
    });
    expect(revoke.status).toBe(200);

    const after = await publish("the revoked trustpub token", "@acme/demo", "1.3.0");
    expect(after.code).not.toBe(0);
    expect(after.output).toContain("E401");
    expect(lastAccess("PUT /@acme%2fdemo ")).toContain('" 401 subject=""');
    expect(await verdaccio.versions("@acme/demo")).toEqual(["1.0.0", "1.1.0", "1.2.0"]);
  });

  it("serves reads through nginx and lets no write reach Verdaccio without trustpub", async () => {
    const view = await runNpm(
      "reading through nginx",
      ["view", "@acme/demo", "versions", "--json"],
      {
        cwd: dir,
        home,
        registry,
      },
    );
    expect(view.code, view.output).toBe(0);
    expect(view.output).toContain('"1.2.0"');

    const anonymous = await fetch(`${registry}@acme%2fdemo`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');

    const res = await exchangeThroughNginx("@acme/demo", await gitlabToken());
    const token = ((await res.json()) as { token: string }).token;
    const signup = await fetch(`${registry}-/user/org.couchdb.user:mallory`, {
      method: "PUT",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ name: "mallory", password: "x" }),
    });
    expect(signup.status).toBe(403);
  });
});
