import { z } from "zod";

/** A non-empty claim string of sane length, without control characters. */
export const claimString = z
  .string()
  .min(1)
  .max(1024)
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), "contains control characters");

/** A decimal id as GitHub and GitLab send them ("1234567"). */
export const numericId = z.string().regex(/^[0-9]{1,20}$/, "expected a decimal id");

/** The text before the first "@" of a `<path>@<ref>` claim. */
export function beforeAt(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const at = value.indexOf("@");
  return at === -1 ? value : value.slice(0, at);
}

export function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** Keeps only the string members, for the issued token's `act` claim. */
export function compact(record: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(record)) if (v !== undefined && v !== "") out[k] = v;
  return out;
}
