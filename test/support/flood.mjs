// A separate process that sends garbage to one URL from a chosen local
// address (127.0.0.2, ...) at a steady rate for a bounded time, then prints
// the statuses it got back. Open loop: requests leave on schedule whether or
// not earlier ones were answered (at most MAX_IN_FLIGHT at once).
// Usage: node flood.mjs URL LOCAL_ADDRESS DURATION_MS RATE_PER_SECOND
import { randomBytes } from "node:crypto";
import { Agent, request } from "node:http";

const MAX_IN_FLIGHT = 64;
const [url, localAddress, durationText, rateText] = process.argv.slice(2);
const duration = Number(durationText);
const rate = Number(rateText);
const agent = new Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT });
const statuses = {};
let errors = 0;
let skipped = 0;
let inFlight = 0;

function once() {
  return new Promise((resolve) => {
    const body = randomBytes(256).toString("base64");
    inFlight++;
    const done = () => {
      inFlight--;
      resolve();
    };
    const req = request(
      url,
      {
        method: "POST",
        agent,
        localAddress,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        timeout: 10_000,
      },
      (res) => {
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        res.resume();
        res.on("end", done);
        res.on("error", done);
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => {
      errors++;
      done();
    });
    req.end(body);
  });
}

const started = Date.now();
const pending = [];
for (let sent = 0; ; sent++) {
  const due = started + (sent * 1000) / rate;
  if (due >= started + duration) break;
  const wait = due - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  if (inFlight >= MAX_IN_FLIGHT) skipped++;
  else pending.push(once());
}
await Promise.all(pending);
agent.destroy();
process.stdout.write(`${JSON.stringify({ statuses, errors, skipped })}\n`);
