import type { Context } from "hono";
import { TrustpubError } from "../errors.js";
import { parseJsonStrict } from "../lib/json.js";
import { readCapped } from "../lib/read-capped.js";
import { strictUtf8 } from "../lib/utf8.js";

/**
 * Reads a request body up to `limit` bytes, counting the bytes actually
 * read: a lying or absent Content-Length (chunked) cannot get more through.
 */
export async function readBody(request: Request, limit: number): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null) {
    const length = Number(declared);
    if (!/^\d{1,15}$/.test(declared.trim())) {
      throw new TrustpubError("malformed_request", "content-length is not a number");
    }
    if (length > limit) throw tooLarge(limit);
    // The HTTP parser delivers exactly the declared length, so the whole body
    // can be read at once (the runtime's fast path); the cap is checked again.
    const body = new Uint8Array(await request.arrayBuffer());
    if (body.byteLength > limit) throw tooLarge(limit);
    return body;
  }
  const body = await readCapped(request.body, limit);
  if (body === undefined) throw tooLarge(limit);
  return body;
}

function tooLarge(limit: number): TrustpubError {
  return new TrustpubError("payload_too_large", `request body exceeds ${limit} bytes`);
}

export function mediaType(c: Context): string | undefined {
  return c.req.header("content-type")?.split(";")[0]?.trim().toLowerCase();
}

function requireMediaType(c: Context, allowed: readonly string[]): void {
  const type = mediaType(c);
  if (type === undefined || !allowed.includes(type)) {
    throw new TrustpubError(
      "unsupported_media_type",
      `content type must be ${allowed.join(" or ")}`,
    );
  }
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new TrustpubError("malformed_request", "request body is not valid UTF-8");
  }
}

/** An `application/json` body holding a JSON object. */
export async function readJsonObject(c: Context, limit: number): Promise<Record<string, unknown>> {
  requireMediaType(c, ["application/json"]);
  const parsed = parseJsonStrict(decodeUtf8(await readBody(c.req.raw, limit)));
  if (!parsed.ok)
    throw new TrustpubError(
      "malformed_request",
      `request body is ${parsed.why === "not JSON" ? "not JSON" : "ambiguous JSON (duplicate member names)"}`,
    );
  if (parsed.value === null || typeof parsed.value !== "object" || Array.isArray(parsed.value)) {
    throw new TrustpubError("malformed_request", "request body must be a JSON object");
  }
  return parsed.value as Record<string, unknown>;
}

/** An `application/x-www-form-urlencoded` body; a repeated parameter is refused (RFC 6749 3.2). */
export async function readForm(c: Context, limit: number): Promise<Map<string, string>> {
  requireMediaType(c, ["application/x-www-form-urlencoded"]);
  const params = new URLSearchParams(decodeUtf8(await readBody(c.req.raw, limit)));
  const form = new Map<string, string>();
  for (const [key, value] of params) {
    if (form.has(key)) throw new TrustpubError("malformed_request", `parameter ${key} is repeated`);
    form.set(key, value);
  }
  return form;
}
