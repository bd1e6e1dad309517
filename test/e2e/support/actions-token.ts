import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface ActionsTokenEndpoint {
  /** What goes in ACTIONS_ID_TOKEN_REQUEST_URL. */
  readonly requestUrl: string;
  /** What goes in ACTIONS_ID_TOKEN_REQUEST_TOKEN. */
  readonly requestToken: string;
  /** The audiences asked for, in order. */
  readonly audiences: string[];
  close(): Promise<void>;
}

/**
 * GitHub Actions' ID token endpoint, as a runner serves it: a GET with the
 * job's request token as Bearer and `audience` in the query answers
 * `{"value": "<ID token>"}`. `mint` signs the token for that audience.
 */
export async function startActionsTokenEndpoint(
  mint: (audience: string) => Promise<string>,
): Promise<ActionsTokenEndpoint> {
  const requestToken = `runner-${crypto.randomUUID()}`;
  const audiences: string[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const audience = url.searchParams.get("audience");
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.method !== "GET" || url.pathname !== "/token")
      return reply(404, { message: "not found" });
    if (req.headers.authorization !== `Bearer ${requestToken}`)
      return reply(401, { message: "bad request token" });
    if (audience === null) return reply(400, { message: "audience is required" });
    audiences.push(audience);
    mint(audience).then(
      (value) => reply(200, { value }),
      (err: Error) => reply(500, { message: err.message }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    requestUrl: `http://127.0.0.1:${port}/token?api-version=2.0`,
    requestToken,
    audiences,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
