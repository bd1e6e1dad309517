/**
 * The Cloudflare Workers entry (wrangler `main`). The Durable Object class
 * must be exported from the entry module for its binding to find it.
 */
import { createWorker } from "./worker-handler.js";

export { ReplayShard } from "../replay/durable-object.js";
export default createWorker();
