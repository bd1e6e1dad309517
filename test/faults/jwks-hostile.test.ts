import type { ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Canary, startCanary } from "../support/canary.js";
import { githubClaims } from "../support/claims.js";
import { type Harness, type HttpAnswer, NPM_AUDIENCE, startHarness } from "../support/harness.js";
import type { JwksHandler } from "../support/issuer.js";

let h: Harness;
let canary: Canary;
beforeAll(async () => {
  canary = await startCanary();
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
  await canary?.stop();
});

const TEN_MB = 10 * 1024 * 1024;

function writeUntil(res: ServerResponse, bytes: number): void {
  const chunk = Buffer.alloc(64 * 1024, " ");
  let sent = 0;
  const pump = () => {
    while (sent < bytes && !res.destroyed) {
      sent += chunk.length;
      if (!res.write(chunk)) return void res.once("drain", pump);
    }
    if (!res.destroyed) res.end();
  };
  res.write('{"keys":[');
  pump();
}

const HOSTILE: Record<string, JwksHandler> = {
  "10 MB, chunked": (_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    writeUntil(res, TEN_MB);
  },
  "10 MB, declared": (_req, res) => {
    res.writeHead(200, { "content-type": "application/json", "content-length": TEN_MB + 9 });
    writeUntil(res, TEN_MB);
  },
  "a 302 to 127.0.0.1": (_req, res) => {
    res.writeHead(302, { location: `${canary.url}/jwks` });
    res.end();
  },
  "a 10 s stall": () => {
    // Never answers; the issuer's stop() destroys the socket.
  },
};

/** Claims that are fresh by trustpub's (shifted) clock. */
function fresh(): { iat: number; nbf: number; exp: number } {
  const now = Math.floor(h.clock.now() / 1000);
  return { iat: now, nbf: now, exp: now + 300 };
}

async function timed(send: () => Promise<HttpAnswer>): Promise<[HttpAnswer, number]> {
  const started = performance.now();
  const res = await send();
  return [res, performance.now() - started];
}

describe("case 42: a hostile JWKS response", () => {
  for (const [name, handler] of Object.entries(HOSTILE)) {
    it(`${name}: the fetch is aborted and the cached keys are kept`, async () => {
      expect((await h.exchange(await h.githubToken(fresh()))).status).toBe(200);
      const rotated = await h.github.addKey(); // published, but only a hostile JWKS is served
      h.github.setJwksHandler(handler);
      h.github.resetCounts();
      h.clock.offsetMs += 31_000; // past the refresh cooldown

      const before = await h.storedKeys();
      const newKid = await h.github.sign(githubClaims(h.github.url, NPM_AUDIENCE, fresh()), {
        kid: rotated.kid,
      });
      // The unknown kid triggers one refresh, which is aborted; the kid stays unknown.
      const [refused, ms] = await timed(() => h.exchange(newKid));
      expect(refused.status).toBe(401);
      expect(refused.body.reason).toBe("invalid_signature");
      expect(refused.body.token).toBeUndefined();
      expect(await h.storedKeys()).toBe(before);
      expect(h.github.requests.jwks).toBe(1);
      expect(ms).toBeLessThan(9_000); // the 5 s fetch timeout, with slack
      // The keys cached before still verify.
      expect((await h.exchange(await h.githubToken(fresh()))).status).toBe(200);
      expect(canary.connections()).toBe(0);

      h.github.setJwksHandler(undefined);
      h.github.removeKey(rotated.kid);
    }, 30_000);
  }

  it("with no keys cached yet, each of them makes the issuer unusable (503) until it is fixed", async () => {
    for (const handler of Object.values(HOSTILE)) {
      h.gitlab.setJwksHandler(handler);
      h.clock.offsetMs += 2_000; // past the retry interval for an issuer with no keys
      const before = await h.storedKeys();
      const res = await h.exchange(await h.gitlabToken(fresh()));
      expect(res.status).toBe(503);
      expect(res.body.reason).toBe("unavailable");
      expect(res.body.token).toBeUndefined();
      expect(await h.storedKeys()).toBe(before);
    }
    expect(canary.connections()).toBe(0);
    h.gitlab.setJwksHandler(undefined);
    h.clock.offsetMs += 2_000;
    expect((await h.exchange(await h.gitlabToken(fresh()))).status).toBe(200);
  }, 60_000);
});
