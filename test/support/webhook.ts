import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import { listenOnLoopback } from "./loopback.js";

export interface ReceivedRequest {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

/** How the receiver answers the next requests: a status, or `stall` (never answer). */
export type Behaviour = number | "stall";

export interface WebhookReceiver {
  readonly url: string;
  /** Every request received, answered or not. */
  readonly received: ReceivedRequest[];
  /** Answers for the next requests, in order; afterwards `fallback`. */
  script(...answers: Behaviour[]): void;
  fallback: Behaviour;
  /** Requests held without an answer (stalled). */
  stalled(): number;
  /** Answers every stalled request with 200. */
  release(): void;
  /** Resolves when `count` requests have arrived (bounded by `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** A local HTTP receiver on 127.0.0.1 that records JSON posts: an audit webhook or an OTLP/HTTP JSON collector. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedRequest[] = [];
  const held = new Set<ServerResponse>();
  let scripted: Behaviour[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {}
      received.push({ path: req.url ?? "/", headers: req.headers, body });
      const answer = scripted.shift() ?? receiver.fallback;
      if (answer === "stall") {
        held.add(res);
        return;
      }
      res.writeHead(answer, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  const listening = await listenOnLoopback(server);
  const { port } = listening;
  const receiver: WebhookReceiver = {
    url: `http://127.0.0.1:${port}/audit`,
    received,
    fallback: 200,
    script(...answers) {
      scripted = answers;
    },
    stalled: () => [...held].filter((res) => !res.writableEnded && !res.destroyed).length,
    release() {
      for (const res of held) {
        if (!res.writableEnded && !res.destroyed) {
          res.writeHead(200);
          res.end();
        }
      }
      held.clear();
    },
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        if (Date.now() > deadline)
          throw new Error(`webhook received ${received.length} of ${count} requests`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    stop: listening.stop,
  };
  return receiver;
}
