import { z } from "zod";
import { formatPath } from "../config/problems.js";
import { TrustpubError } from "../errors.js";
import { PERMISSIONS } from "../policy/packages.js";

/** A token as it may appear in a request: printable ASCII, bounded. Anything else is a malformed request. */
export const tokenField = z
  .string()
  .min(1)
  .max(16 * 1024)
  .regex(/^[\x21-\x7e]+$/, "must be printable ASCII");

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
