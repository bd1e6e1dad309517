import { createServer } from "node:http";
import { listenOnLoopback } from "./loopback.js";

export interface Canary {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** HTTP requests received. */
  hits(): number;
  /** TCP connections accepted (catches non-HTTP attempts, e.g. a TLS handshake). */
  connections(): number;
  stop(): Promise<void>;
}

/** A server that only counts: point jku/x5u at it and assert it is never contacted. */
export async function startCanary(): Promise<Canary> {
  let hits = 0;
  let connections = 0;
  const server = createServer((_req, res) => {
    hits++;
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"keys":[]}');
  });
  server.on("connection", () => {
    connections++;
  });
  const listening = await listenOnLoopback(server);
  const { port } = listening;
  return {
    url: `http://127.0.0.1:${port}`,
    hits: () => hits,
    connections: () => connections,
    stop: listening.stop,
  };
}
