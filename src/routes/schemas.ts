import { z } from "zod";
import { formatPath } from "../config/problems.js";
import { TrustpubError } from "../errors.js";
import { PERMISSIONS } from "../policy/packages.js";

/**
 * A token as it may appear in a request: printable ASCII, bounded; anything else
 * (NUL and other control characters, non-ASCII) is a malformed request. Spaces,
 * tabs and line breaks pass here, so that the token parser refuses them like any
 * other character outside base64url: as a malformed token (401).
 */
export const tokenField = z
  .string()
  .min(1)
  .max(16 * 1024)
  .regex(/^[\t\n\r\x20-\x7e]+$/, "must be printable ASCII");

export const packageList = z
  .array(
    z
      .string()
      .min(1)
      .max(214)
      .regex(/^[\x21-\x7e]+$/, "must be printable ASCII"),
  )
  .min(1)
  .max(100);

export const permissionList = z.array(z.enum(PERMISSIONS)).min(1).max(3);

/** Parses with a zod schema; the first problem becomes a malformed_request naming the field. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = formatPath(issue.path);
  throw new TrustpubError(
    "malformed_request",
    field === "(root)" ? issue.message : `${field}: ${issue.message}`,
  );
}
