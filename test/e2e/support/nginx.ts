import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Started, startProcess, step, waitUntil } from "./process.js";

const NGINX_BIN = process.env.NGINX_BIN ?? "/usr/sbin/nginx";

export interface Nginx {
  readonly url: string;
  readonly proc: Started;
  /** Lines of the trustpub_npm access log written so far. */
  accessLog(): string[];
  errorLog(): string;
}

/**
 * Replaces `from` in the deploy config, which must hold it exactly once: if
 * the example changes shape, this suite says so instead of testing something
 * else.
 */
function replaceOnce(text: string, from: string, to: string): string {
  const count = text.split(from).length - 1;
  if (count !== 1)
    throw new Error(`deploy/npm-mirror/nginx.conf: expected "${from}" once, found ${count}`);
  return text.replace(from, to);
}

/**
 * Runs the real nginx with deploy/npm-mirror/nginx.conf, its upstreams and
 * listener moved to this run's loopback ports, under a main config that keeps
 * every file (pid, logs, temp files) in `dir`.
 */
export async function startNginx(options: {
  dir: string;
  deployConf: string;
  port: number;
  trustpubPort: number;
  verdaccioPort: number;
}): Promise<Nginx> {
  if (!existsSync(NGINX_BIN)) {
    throw new Error(`nginx not found at ${NGINX_BIN}: apt-get install -y nginx (or set NGINX_BIN)`);
  }
  const { dir, port } = options;
  mkdirSync(dir, { recursive: true });
  const accessLog = join(dir, "access.log");
  const errorLog = join(dir, "error.log");
  let site = readFileSync(options.deployConf, "utf8");
  site = replaceOnce(site, "server 127.0.0.1:8080;", `server 127.0.0.1:${options.trustpubPort};`);
  site = replaceOnce(site, "server 127.0.0.1:4873;", `server 127.0.0.1:${options.verdaccioPort};`);
  site = replaceOnce(site, "listen 80;", `listen 127.0.0.1:${port};`);
  site = replaceOnce(site, "/var/log/nginx/npm-mirror.access.log", accessLog);
  writeFileSync(join(dir, "npm-mirror.conf"), site);

  // Workers drop root for www-data: they need to reach the temp folders.
  chmodSync(dir, 0o755);
  const temp = join(dir, "temp");
  mkdirSync(temp, { recursive: true });
  chmodSync(temp, 0o777);
  const asRoot = process.getuid?.() === 0;
  writeFileSync(
    join(dir, "nginx.conf"),
    [
      "daemon off;",
      "master_process on;",
      "worker_processes 1;",
      asRoot ? "user www-data;" : "",
      `pid ${join(dir, "nginx.pid")};`,
      `error_log ${errorLog} info;`,
      "events { worker_connections 128; }",
      "http {",
      `  access_log ${join(dir, "default-access.log")};`,
      `  client_body_temp_path ${join(temp, "body")};`,
      `  proxy_temp_path ${join(temp, "proxy")};`,
      `  fastcgi_temp_path ${join(temp, "fastcgi")};`,
      `  uwsgi_temp_path ${join(temp, "uwsgi")};`,
      `  scgi_temp_path ${join(temp, "scgi")};`,
      `  include ${join(dir, "npm-mirror.conf")};`,
      "}",
      "",
    ].join("\n"),
  );
  step(`starting nginx on 127.0.0.1:${port} with deploy/npm-mirror/nginx.conf`);
  const proc = startProcess(
    "nginx",
    NGINX_BIN,
    ["-p", `${dir}/`, "-c", join(dir, "nginx.conf"), "-e", errorLog],
    { PATH: process.env.PATH },
  );
  const url = `http://127.0.0.1:${port}`;
  const read = (file: string) => (existsSync(file) ? readFileSync(file, "utf8") : "");
  await waitUntil(
    "nginx",
    async () => (await fetch(`${url}/-/ping`)).status === 200,
    30_000,
    proc,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\nerror.log:\n${read(errorLog)}`);
  });
  return {
    url,
    proc,
    accessLog: () => read(accessLog).split("\n").filter(Boolean),
    errorLog: () => read(errorLog),
  };
}
