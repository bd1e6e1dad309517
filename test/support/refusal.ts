import { createLocalJWKSet, jwtVerify } from "jose";
import { expect } from "vitest";
import { type Harness, type HttpAnswer, TRUSTPUB_ISSUER } from "./harness.js";

/**
 * Sends a request that must be refused and asserts what every refusal must
 * hold: the status, the `reason`, no token in the answer, and nothing
 * written to the replay store.
 */
export async function expectRefused(
  h: Harness,
  send: () => Promise<HttpAnswer>,
  status: number,
  reason: string,
): Promise<HttpAnswer> {
  const before = await h.storedKeys();
  const res = await send();
  expect({ status: res.status, reason: res.body.reason }).toEqual({ status, reason });
  expect(res.body.token).toBeUndefined();
  expect(await h.storedKeys()).toBe(before);
  return res;
}

/** Verifies an issued token through trustpub's JWKS and returns its payload. */
export async function issuedPayload(h: Harness, token: string) {
  const jwks = await (await fetch(`${h.url}/.well-known/jwks.json`)).json();
  const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), {
    issuer: TRUSTPUB_ISSUER,
    typ: "at+jwt",
  });
  return payload as Record<string, unknown> & { act: Record<string, string>; sub: string };
}
