import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { FileSource } from "./load.js";

/** Files named in the config, relative to the config file's folder. */
export function nodeFileSource(baseDir: string): FileSource {
  return { readText: (path) => readFile(resolve(baseDir, path), "utf8") };
}
