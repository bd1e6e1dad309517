// Stand-ins for a Durable Object that is failing, loaded into workerd next to
// the real Worker: a storage outage cannot be produced on demand here, so
// these objects answer every RPC the way a broken or stalled object would.
import { DurableObject } from "cloudflare:workers";

/** Every call throws, as an object whose storage fails or that was reset does. */
export class FailingShard extends DurableObject {
  async claim() {
    throw new Error("Durable Object storage operation failed");
  }
  async has() {
    throw new Error("Durable Object storage operation failed");
  }
  async incr() {
    throw new Error("Durable Object storage operation failed");
  }
  async ping() {
    throw new Error("Durable Object storage operation failed");
  }
}

/** Every call hangs for 30 s, as an overloaded or unreachable object does. */
export class StalledShard extends DurableObject {
  async claim() {
    await scheduler.wait(30_000);
    return true;
  }
  async has() {
    await scheduler.wait(30_000);
    return false;
  }
  async ping() {
    await scheduler.wait(30_000);
  }
}

/** Answers with the wrong type, as a mismatched deployment would. */
export class WrongShard extends DurableObject {
  async claim() {
    return "OK";
  }
  async ping() {}
}

export default {
  fetch: () => new Response("faulty shards", { status: 404 }),
};
