import { z } from "zod";
import { exchange } from "../../exchange/exchange.js";
import type { ExchangeResult } from "../../exchange/types.js";
import { readJsonObject } from "../body.js";
import { parseBody, tokenField } from "../schemas.js";
import type { CompatRequest } from "./types.js";

/**
 * The exchange as a compatible endpoint runs it: pinned to the registry the
 * mount selected (the CI token's `aud` must be that registry's audience),
 * scoped to `packages` when the protocol names one, otherwise to everything
 * the matching publishers grant.
 */
export function compatExchange(
  request: CompatRequest,
  endpoint: string,
  token: string,
  packages?: readonly string[],
): Promise<ExchangeResult> {
  return exchange(request.services.exchangeDeps(), {
    token,
    packages,
    registry: request.registryId,
    endpoint,
    client: request.c.get("client"),
  });
}

/** A JSON body holding the CI token under `field` (`token` for PyPI, `jwt` for cargo and RubyGems). */
export async function tokenFromBody(request: CompatRequest, field: string): Promise<string> {
  const body = await readJsonObject(request.c, request.services.config.limits.body_bytes);
  return parseBody(z.object({ [field]: tokenField }), body)[field] as string;
}
