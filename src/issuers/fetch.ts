import { TrustpubError } from "../errors.js";
import { readCapped } from "../lib/read-capped.js";
import { strictUtf8 } from "../lib/utf8.js";

export interface FetchLimits {
  /** Plain http only for loopback test issuers (`allow_http`). */
  readonly allowHttp: boolean;
  readonly timeoutMs: number;
  readonly maxBytes: number;
}

export const ISSUER_FETCH_LIMITS: FetchLimits = {
  allowHttp: false,
  timeoutMs: 5000,
  maxBytes: 256 * 1024,
};

export type FetchFn = (input: string, init?: RequestInit) => Promise<Response>;

/**
 * GETs a JSON document from an issuer, hardened against what a hostile or
 * broken endpoint can do: https only, no redirects (a 302 to 127.0.0.1 or a
 * metadata address is refused, not followed), a hard timeout covering the
 * whole body, and a byte cap checked on the bytes actually read.
 */
export async function fetchIssuerJson(
  url: string,
  limits: FetchLimits,
  fetchFn: FetchFn,
): Promise<unknown> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new TrustpubError("unavailable", "issuer keys are unobtainable", {
      cause: new Error(`invalid URL ${url}`, { cause }),
    });
  }
  if (parsed.protocol !== "https:" && !(limits.allowHttp && parsed.protocol === "http:")) {
    throw unavailable(`refusing to fetch ${parsed.protocol} URL ${url}`);
  }
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new Error(`timed out after ${limits.timeoutMs} ms`)),
    limits.timeoutMs,
  );
  try {
    const response = await fetchFn(url, {
      method: "GET",
      redirect: "manual",
      signal: controller.signal,
      headers: { accept: "application/json" },
    });
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => {});
      throw unavailable(
        `GET ${url} answered ${response.status}${response.status >= 300 && response.status < 400 ? " (redirects are not followed)" : ""}`,
      );
    }
    const declared = Number(response.headers.get("content-length") ?? "0");
    if (declared > limits.maxBytes) {
      await response.body?.cancel().catch(() => {});
      throw unavailable(
        `GET ${url} declared ${declared} bytes, over the ${limits.maxBytes} byte cap`,
      );
    }
    const text = await readText(response, limits.maxBytes, url);
    try {
      return JSON.parse(text);
    } catch (cause) {
      throw unavailable(`GET ${url} did not return JSON`, cause);
    }
  } catch (err) {
    if (err instanceof TrustpubError) throw err;
    throw unavailable(`GET ${url} failed: ${(err as Error).message}`, err);
  } finally {
    clearTimeout(timer);
  }
}

async function readText(response: Response, maxBytes: number, url: string): Promise<string> {
  const bytes = await readCapped(response.body, maxBytes);
  if (bytes === undefined) throw unavailable(`GET ${url} exceeded the ${maxBytes} byte cap`);
  return strictUtf8.decode(bytes);
}

function unavailable(detail: string, cause?: unknown): TrustpubError {
  return new TrustpubError("unavailable", "issuer keys are unobtainable", {
    cause: new Error(detail, { cause }),
  });
}
