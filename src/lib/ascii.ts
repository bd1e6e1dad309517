/**
 * ASCII-only case folding. Unicode folding would map look-alikes together
 * (the Kelvin sign K folds to "k"), so only A-Z are folded.
 */
export function asciiLower(value: string): string {
  return value.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}
