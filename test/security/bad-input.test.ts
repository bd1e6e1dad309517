import { request } from "node:http";
import { connect } from "node:net";
import { CompactSign } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { b64url, unsigned } from "../support/forge.js";
import { type Harness, type HttpAnswer, startHarness } from "../support/harness.js";

/**
 * Security cases D (32-36): hostile bodies and tokens are refused early and
 * cheaply, with the status and reason of SPEC section 5, no token, and
 * nothing written to the replay store.
 */

const LIMIT = 65_536;
const MB = 1024 * 1024;
const FAST_MS = 2_000;

let h: Harness;
let stored: number;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});
beforeEach(async () => {
  stored = await h.storedKeys();
});

interface Answer {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

function parse(status: number, text: string): Answer {
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text);
  } catch {
    body = {};
  }
  return { status, body, text };
}

async function expectRefused(res: Answer | HttpAnswer, status: number, reason: string) {
  expect(res.status).toBe(status);
  expect(res.body.reason).toBe(reason);
  expect(res.body.token).toBeUndefined();
  expect(res.text).not.toContain('"token"');
  expect(await h.storedKeys()).toBe(stored);
}

/**
 * POST over node:http on a fresh connection. `end: false` leaves the request
 * open after the chunks: the answer must then come before the body is complete.
 */
function rawPost(
  path: string,
  headers: Record<string, string>,
  chunks: readonly Uint8Array[],
  opts: { end?: boolean } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, h.url);
    const req = request({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: "POST",
      headers,
      agent: false,
    });
    let answered = false;
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer to POST ${path}`));
    }, 10_000);
    req.on("response", (res) => {
      answered = true;
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        text += chunk;
      });
      const done = () => {
        clearTimeout(timer);
        req.destroy();
        resolve(parse(res.statusCode ?? 0, text));
      };
      res.once("end", done);
      res.once("error", done);
    });
    // The server may close the connection while the rest of an oversized body is in flight.
    req.on("error", (err) => {
      if (answered) return;
      clearTimeout(timer);
      reject(err);
    });
    void (async () => {
      for (const chunk of chunks) {
        if (req.destroyed) return;
        if (!req.write(chunk)) await new Promise((r) => req.once("drain", r));
      }
      if (opts.end !== false && !req.destroyed) req.end();
    })().catch(() => {});
  });
}

/** Sends raw bytes on a TCP connection and returns what came back until the server closed it. */
function rawHttp(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const url = new URL(h.url);
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    let reply = "";
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(reply);
    }, 5_000);
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      reply += chunk;
    });
    socket.once("error", (err) => {
      clearTimeout(timer);
      if (reply) resolve(reply);
      else reject(err);
    });
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(reply);
    });
    socket.once("connect", () => socket.write(text));
  });
}

const json = { "content-type": "application/json" };

/** Posts to /v1/exchange and measures how long the answer took. */
async function timed(post: () => Promise<HttpAnswer>): Promise<HttpAnswer & { ms: number }> {
  const started = performance.now();
  const res = await post();
  return { ...res, ms: performance.now() - started };
}

describe("case 32: oversized bodies", () => {
  const megabyteBody = () =>
    new TextEncoder().encode(JSON.stringify({ token: "a".repeat(MB), pad: "" }));

  it("refuses a 1 MB body with Content-Length as 413", async () => {
    const body = megabyteBody();
    const res = await rawPost(
      "/v1/exchange",
      { ...json, "content-length": String(body.byteLength) },
      [body],
    );
    await expectRefused(res, 413, "malformed_request");
    expect(res.body.error).toBe("invalid_request");
  });

  it("answers 413 from the Content-Length alone, before the body arrives", async () => {
    const res = await rawPost(
      "/v1/exchange",
      { ...json, "content-length": String(MB) },
      [new TextEncoder().encode('{"token":"')],
      { end: false },
    );
    await expectRefused(res, 413, "malformed_request");
  });

  it("refuses a 1 MB chunked body (no Content-Length) as 413", async () => {
    const chunks = Array.from({ length: 16 }, () => new Uint8Array(LIMIT).fill(0x61));
    const res = await rawPost("/v1/exchange", json, chunks);
    await expectRefused(res, 413, "malformed_request");
  });

  it("counts the bytes read: a chunked body stops being read past the limit", async () => {
    // 128 KiB sent, the request left open: the answer cannot wait for its end.
    const chunks = Array.from({ length: 2 }, () => new Uint8Array(LIMIT).fill(0x61));
    const res = await rawPost("/v1/exchange", json, chunks, { end: false });
    await expectRefused(res, 413, "malformed_request");
  });

  it("refuses a 1 MB streamed fetch body (duplex: half) as 413", async () => {
    let sent = 0;
    const chunk = new Uint8Array(LIMIT).fill(0x61);
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= MB) {
          controller.close();
          return;
        }
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const res = await fetch(`${h.url}/v1/exchange`, {
      method: "POST",
      headers: { ...json, connection: "close" },
      body: stream,
      duplex: "half",
    } as RequestInit & { duplex: "half" });
    await expectRefused(parse(res.status, await res.text()), 413, "malformed_request");
  });

  it("refuses Content-Length together with Transfer-Encoding before any handler runs", async () => {
    const audit = h.audit.events.length;
    const body = '{"token":"a.b.c"}';
    const reply = await rawHttp(
      [
        "POST /v1/exchange HTTP/1.1",
        `Host: ${new URL(h.url).host}`,
        "Content-Type: application/json",
        `Content-Length: ${body.length}`,
        "Transfer-Encoding: chunked",
        "Connection: close",
        "",
        `${body.length.toString(16)}`,
        body,
        "0",
        "",
        "",
      ].join("\r\n"),
    );
    expect(reply).toMatch(/^HTTP\/1\.1 (400|413) /);
    expect(reply).not.toContain('"token"');
    expect(h.audit.events.length).toBe(audit);
    expect(await h.storedKeys()).toBe(stored);
  });
});

describe("case 33: token bombs answer fast", () => {
  it("refuses a 10,000-dot token as malformed_token", async () => {
    const res = await timed(() => h.exchange(".".repeat(10_000)));
    await expectRefused(res, 401, "malformed_token");
    expect(res.ms).toBeLessThan(FAST_MS);
  });

  it("refuses a header of deeply nested arrays as malformed_token", async () => {
    const depth = 5_000;
    const header = `${"[".repeat(depth)}${"]".repeat(depth)}`;
    const token = unsigned(header, { iss: h.github.url }, "c2ln");
    expect(token.length).toBeLessThan(16 * 1024);
    const res = await timed(() => h.exchange(token));
    await expectRefused(res, 401, "malformed_token");
    expect(res.ms).toBeLessThan(FAST_MS);
  });

  it("refuses a deeply nested header object before any key fetch", async () => {
    const depth = 1_500;
    const nested = `${'{"x":'.repeat(depth)}1${"}".repeat(depth)}`;
    const header = `{"alg":"RS256","typ":"JWT","kid":"${h.github.key.kid}","x":${nested}}`;
    const fetches = h.github.requests.total;
    const token = `${b64url(header)}.${b64url("not json")}.c2ln`;
    expect(token.length).toBeLessThan(16 * 1024);
    const res = await timed(() => h.exchange(token));
    await expectRefused(res, 401, "malformed_token");
    expect(res.ms).toBeLessThan(FAST_MS);
    expect(h.github.requests.total).toBe(fetches);
  });

  it("refuses a token too long for a request body as 413", async () => {
    const res = await timed(() => h.exchange("a".repeat(100 * 1024)));
    await expectRefused(res, 413, "malformed_request");
    expect(res.ms).toBeLessThan(FAST_MS);
  });

  describe("with a body limit that lets a 100 KB token through", () => {
    let big: Harness;
    beforeAll(async () => {
      big = await startHarness({
        configure: (config) => {
          config.limits = { body_bytes: 262_144 };
        },
      });
    });
    afterAll(async () => {
      await big?.close();
    });

    it("refuses a 100 KB token as malformed_request, fast", async () => {
      const ci = await big.githubToken({ padding: "p".repeat(100 * 1024) });
      expect(ci.length).toBeGreaterThan(100 * 1024);
      const before = await big.storedKeys();
      const res = await timed(() => big.exchange(ci));
      expect(res.status).toBe(400);
      expect(res.body.reason).toBe("malformed_request");
      expect(res.body.token).toBeUndefined();
      expect(res.ms).toBeLessThan(FAST_MS);
      expect(await big.storedKeys()).toBe(before);
    });

    it("refuses a 100 KB token at /token (RFC 8693) too", async () => {
      const ci = await big.githubToken({ padding: "p".repeat(100 * 1024) });
      const before = await big.storedKeys();
      const started = performance.now();
      const res = await fetch(`${big.url}/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
          subject_token: ci,
          subject_token_type: "urn:ietf:params:oauth:token-type:id_token",
        }).toString(),
      });
      const body = await res.json();
      expect(performance.now() - started).toBeLessThan(FAST_MS);
      expect(res.status).toBe(400);
      expect(["malformed_request", "malformed_token"]).toContain(body.reason);
      expect(body.access_token).toBeUndefined();
      expect(await big.storedKeys()).toBe(before);
    });
  });
});

describe("case 34: bodies that are not the expected JSON", () => {
  it("refuses malformed JSON", async () => {
    await expectRefused(
      await h.post("/v1/exchange", '{"token": "a.b.c"'),
      400,
      "malformed_request",
    );
  });

  it("refuses a JSON array", async () => {
    const ci = await h.githubToken();
    await expectRefused(await h.post("/v1/exchange", [{ token: ci }]), 400, "malformed_request");
  });

  it("refuses a numeric token", async () => {
    await expectRefused(await h.post("/v1/exchange", { token: 12345 }), 400, "malformed_request");
  });

  it("refuses a missing token and unknown members", async () => {
    await expectRefused(await h.post("/v1/exchange", {}), 400, "malformed_request");
    const ci = await h.githubToken();
    await expectRefused(
      await h.post("/v1/exchange", { token: ci, registry: "npm-internal" }),
      400,
      "malformed_request",
    );
  });

  it("refuses a raw NUL byte in the body", async () => {
    const ci = await h.githubToken();
    const res = await h.post("/v1/exchange", `{"token":"${ci.slice(0, 10)}\u0000${ci.slice(10)}"}`);
    await expectRefused(res, 400, "malformed_request");
  });

  it("refuses an escaped NUL in the token", async () => {
    const ci = await h.githubToken();
    await expectRefused(await h.exchange(`${ci}\u0000`), 400, "malformed_request");
  });

  it("refuses a body that is not UTF-8", async () => {
    const raw = await rawPost("/v1/exchange", json, [
      new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x7d]),
    ]);
    await expectRefused(raw, 400, "malformed_request");
  });

  it("refuses duplicate member names", async () => {
    const ci = await h.githubToken();
    const res = await h.post("/v1/exchange", `{"token":"x.y.z","token":"${ci}"}`);
    await expectRefused(res, 400, "malformed_request");
  });
});

describe("case 35: other content types", () => {
  const cases: [string, Record<string, string> | undefined][] = [
    ["text/plain", { "content-type": "text/plain" }],
    ["text/plain with charset", { "content-type": "text/plain; charset=utf-8" }],
    ["multipart/form-data", { "content-type": "multipart/form-data; boundary=x" }],
    ["application/x-www-form-urlencoded", { "content-type": "application/x-www-form-urlencoded" }],
    ["no content type", undefined],
  ];

  for (const [name, headers] of cases) {
    it(`refuses ${name} as 415`, async () => {
      const ci = await h.githubToken();
      const body = new TextEncoder().encode(JSON.stringify({ token: ci }));
      const res = await rawPost("/v1/exchange", headers ?? {}, [body]);
      await expectRefused(res, 415, "malformed_request");
      expect(res.body.error).toBe("invalid_request");
    });
  }

  it("sends no content type for a byte body (what the no-content-type case relies on)", async () => {
    const res = await fetch(`${h.url}/v1/exchange`, {
      method: "POST",
      body: new TextEncoder().encode(JSON.stringify({ token: await h.githubToken() })),
    });
    await expectRefused(parse(res.status, await res.text()), 415, "malformed_request");
  });
});

describe("case 36: tokens that are not strict base64url", () => {
  it("refuses = padding", async () => {
    const [header, payload, signature] = (await h.githubToken()).split(".");
    for (const token of [
      `${header}.${payload}=.${signature}`,
      `${header}==.${payload}.${signature}`,
      `${header}.${payload}.${signature}=`,
    ]) {
      await expectRefused(await h.exchange(token), 401, "malformed_token");
    }
  });

  it("refuses the standard alphabet's + and /", async () => {
    const ci = await h.githubToken();
    const standard = ci.replaceAll("-", "+").replaceAll("_", "/");
    expect(standard).toMatch(/[+/]/);
    await expectRefused(await h.exchange(standard), 401, "malformed_token");
  });

  it("refuses whitespace inside or around the token", async () => {
    const ci = await h.githubToken();
    const dot = ci.indexOf(".");
    for (const token of [
      `${ci.slice(0, 20)} ${ci.slice(20)}`,
      `${ci.slice(0, dot + 1)}\n${ci.slice(dot + 1)}`,
      `${ci}\n`,
      ` ${ci}`,
      `${ci.slice(0, 20)}\t${ci.slice(20)}`,
      `${ci.slice(0, 20)}\r\n${ci.slice(20)}`,
    ]) {
      await expectRefused(await h.exchange(token), 401, "malformed_token");
    }
    // The untouched token was never burnt by those attempts.
    expect((await h.exchange(ci)).status).toBe(200);
  });

  it("refuses invalid UTF-8 in a validly signed payload", async () => {
    const prefix = new TextEncoder().encode(`{"iss":"${h.github.url}","x":"`);
    const payload = new Uint8Array([...prefix, 0xc3, 0x28, 0xff, 0x22, 0x7d]);
    const token = await new CompactSign(payload)
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: h.github.key.kid })
      .sign(h.github.key.privateKey);
    await expectRefused(await h.exchange(token), 401, "malformed_token");
  });

  it("refuses invalid UTF-8 in the header", async () => {
    const token = unsigned(new Uint8Array([0x7b, 0xff, 0x7d]), { iss: h.github.url }, "c2ln");
    await expectRefused(await h.exchange(token), 401, "malformed_token");
  });
});
