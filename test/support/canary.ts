import { createServer } from "node:http";
import type { AddressInfo, Socket } from "node:net";

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
  const sockets = new Set<Socket>();
  const server = createServer((_req, res) => {
    hits++;
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"keys":[]}');
  });
  server.on("connection", (socket) => {
    connections++;
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let stopped: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    hits: () => hits,
    connections: () => connections,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return stopped;
    },
  };
}
