import { z } from "zod";
import { claimString, compact, normalizeUuid, str, uuid, uuidOf } from "./claims.js";
import type { Identity, Provider } from "./types.js";

/**
 * Kubernetes projected service-account tokens (`serviceAccountToken` volume
 * sources). The issuer is the cluster's `--service-account-issuer`; clusters
 * whose issuer is not reachable get a static `jwks` or `jwks_file`.
 * Docs: https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/
 *
 * `aud` is an array (one element is accepted); the identity sits in a nested
 * `kubernetes.io` object. Tokens not bound to a pod (`kubectl create token`)
 * were minted by a person or a controller, not by a workload, and are refused
 * unless the issuer lists `unbound_token` in `allow_events`.
 */
const ref = z.object({ name: claimString, uid: uuid });
const claims = z
  .object({
    sub: claimString,
    "kubernetes.io": z.object({
      namespace: claimString,
      serviceaccount: ref,
      pod: ref.optional(),
      node: ref.optional(),
    }),
  })
  .refine(
    (c) => {
      const k = k8s(c);
      return c.sub === `system:serviceaccount:${str(k.namespace)}:${str(k.serviceaccount?.name)}`;
    },
    { message: "sub does not name the token's service account", path: ["sub"] },
  );

interface K8s {
  namespace?: unknown;
  serviceaccount?: { name?: unknown; uid?: unknown };
  pod?: { name?: unknown; uid?: unknown };
  node?: { name?: unknown };
}

function k8s(c: Record<string, unknown>): K8s {
  const value = c["kubernetes.io"];
  return value !== null && typeof value === "object" ? (value as K8s) : {};
}

export const kubernetes: Provider = {
  name: "kubernetes",
  claims,
  shortcuts: {
    namespace: { claim: "/kubernetes.io/namespace" },
    service_account: { claim: "/kubernetes.io/serviceaccount/name" },
    service_account_uid: { normalize: normalizeUuid, claim: "/kubernetes.io/serviceaccount/uid" },
    pod: { claim: "/kubernetes.io/pod/name" },
    sub: { claim: "/sub" },
  },
  immutableIds: ["service_account_uid"],
  tenantKeys: ["namespace", "sub", "service_account_uid"],

  refuse(c, issuer) {
    if (k8s(c).pod === undefined && !issuer.allowEvents.includes("unbound_token")) {
      return "tokens not bound to a pod are refused unless the issuer lists unbound_token in allow_events";
    }
    return undefined;
  },

  identity(c): Identity {
    const k = k8s(c);
    return {
      values: {
        namespace: k.namespace,
        service_account: k.serviceaccount?.name,
        service_account_uid: uuidOf(k.serviceaccount?.uid),
        pod: k.pod?.name,
        sub: c.sub,
      },
      act: compact({
        namespace: str(k.namespace),
        service_account: str(k.serviceaccount?.name),
        service_account_uid: uuidOf(k.serviceaccount?.uid),
        pod: str(k.pod?.name),
        pod_uid: uuidOf(k.pod?.uid),
        node: str(k.node?.name),
      }),
    };
  },
};
