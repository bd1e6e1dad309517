import { expect } from "vitest";
import type { Harness, HttpAnswer } from "./harness.js";

/**
 * What every refusal must show: the status, trustpub's reason (in the body
 * for native answers, in `X-Trustpub-Reason` for an ecosystem's shape), no
 * token anywhere in the answer, and nothing written to the replay store.
 */
export async function expectEcosystemRefusal(
  h: Harness,
  res: HttpAnswer,
  status: number,
  reason: string,
  storedBefore: number,
): Promise<void> {
  expect(res.status).toBe(status);
  expect(res.headers.get("x-trustpub-reason") ?? res.body.reason).toBe(reason);
  expect(res.text).not.toMatch(/ey[A-Za-z0-9_-]{8,}\.ey[A-Za-z0-9_-]{8,}\./);
  for (const field of ["token", "api_key", "rubygems_api_key", "access_token"]) {
    expect(res.body[field]).toBeUndefined();
  }
  expect(await h.storedKeys()).toBe(storedBefore);
}
