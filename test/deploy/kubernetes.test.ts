import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { loadConfig } from "../../src/config/load.js";
import { generatePrivateJwk } from "../../src/tokens/keys.js";

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "../..");
const KUBECTL = process.env.KUBECTL_BIN ?? "kubectl";

// biome-ignore lint/suspicious/noExplicitAny: rendered YAML is walked freely in assertions
type Json = any;

type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Json;
  data?: Record<string, string>;
};

/** `kubectl kustomize DIR` (offline: kustomize is built into kubectl), as parsed documents. */
async function render(dir: string): Promise<Manifest[]> {
  const { stdout } = await run(KUBECTL, ["kustomize", resolve(ROOT, dir)], {
    timeout: 60_000,
    maxBuffer: 8 * 1024 * 1024,
  });
  return parseAllDocuments(stdout).map((doc) => {
    expect(doc.errors).toEqual([]);
    return doc.toJS() as Manifest;
  });
}

type Models = Record<string, new (data: unknown) => { validate(): void }>;
/** The schemas of the API groups the manifests use; anything else is an error, not a pass. */
const SCHEMAS: Record<string, () => Promise<Models>> = {
  v1: () => import("kubernetes-models/v1") as Promise<unknown> as Promise<Models>,
  "apps/v1": () => import("kubernetes-models/apps/v1") as Promise<unknown> as Promise<Models>,
  "policy/v1": () => import("kubernetes-models/policy/v1") as Promise<unknown> as Promise<Models>,
  "autoscaling/v2": () =>
    import("kubernetes-models/autoscaling/v2") as Promise<unknown> as Promise<Models>,
  "networking.k8s.io/v1": () =>
    import("kubernetes-models/networking.k8s.io/v1") as Promise<unknown> as Promise<Models>,
};

/** Validates one object against the Kubernetes OpenAPI schema of its apiVersion and kind. */
async function validate(manifest: Manifest): Promise<void> {
  const group = SCHEMAS[manifest.apiVersion];
  const Model = group ? (await group())[manifest.kind] : undefined;
  if (!Model) throw new Error(`no schema for ${manifest.apiVersion} ${manifest.kind}`);
  new Model(manifest).validate();
}

const find = (manifests: Manifest[], kind: string, name?: string) =>
  manifests.find((m) => m.kind === kind && (name === undefined || m.metadata.name === name));

/** The restricted Pod Security Standard and the habits of a well-made service, for every container. */
function expectHardened(workload: Manifest): void {
  const pod = workload.spec.template.spec;
  expect(pod.automountServiceAccountToken).toBe(false);
  expect(pod.securityContext.seccompProfile).toEqual({ type: "RuntimeDefault" });
  const containers = [...(pod.initContainers ?? []), ...pod.containers];
  expect(containers.length).toBeGreaterThan(0);
  for (const c of containers) {
    expect(c.image, c.name).toMatch(/^[^:@]+(:[\w][\w.-]*)?(@sha256:[0-9a-f]{64})?$/);
    expect(c.image, c.name).toMatch(/:(?!latest$)[\w.-]+$|@sha256:/);
    const sc = c.securityContext;
    expect(sc.allowPrivilegeEscalation, c.name).toBe(false);
    expect(sc.readOnlyRootFilesystem, c.name).toBe(true);
    expect(sc.privileged ?? false, c.name).toBe(false);
    expect(sc.capabilities.drop, c.name).toContain("ALL");
    expect(sc.runAsNonRoot ?? pod.securityContext.runAsNonRoot, c.name).toBe(true);
    expect(c.resources.requests.cpu, c.name).toBeDefined();
    expect(c.resources.requests.memory, c.name).toBeDefined();
    expect(c.resources.limits.memory, c.name).toBeDefined();
    expect(c.readinessProbe, c.name).toBeDefined();
    expect(c.livenessProbe, c.name).toBeDefined();
  }
}

/** The container running trustpub, wherever it sits. */
function trustpubContainer(workload: Manifest) {
  const pod = workload.spec.template.spec;
  return [...(pod.initContainers ?? []), ...pod.containers].find(
    (c: { name: string }) => c.name === "trustpub",
  );
}

/** The config in the ConfigMap goes through trustpub's own loader, with the files it names. */
async function expectLoadableConfig(manifests: Manifest[], workload: Manifest): Promise<void> {
  const configMap = find(manifests, "ConfigMap")!;
  const container = trustpubContainer(workload);
  const configPath = container.args[container.args.indexOf("--config") + 1] as string;
  const mounts = container.volumeMounts as { name: string; mountPath: string }[];
  const configMount = mounts.find((m) => configPath.startsWith(`${m.mountPath}/`))!;
  const volume = workload.spec.template.spec.volumes.find(
    (v: { name: string }) => v.name === configMount.name,
  );
  expect(volume.configMap.name).toBe(configMap.metadata.name);
  const text = configMap.data![configPath.slice(configMount.mountPath.length + 1)]!;
  const { parse } = await import("yaml");
  const jwks = JSON.stringify({ keys: [await generatePrivateJwk("ES256")] });
  const loaded = await loadConfig(
    parse(text),
    {},
    {
      readText: async (path) => {
        const keysMount = mounts.find((m) => path.startsWith(`${m.mountPath}/`));
        if (!keysMount) throw new Error(`${path} is not on a mounted volume`);
        return jwks;
      },
    },
  );
  expect(loaded.config.issuer).toMatch(/^https:\/\//);
}

describe.each(["deploy/base", "deploy/overlays/production", "deploy/overlays/sidecar"])(
  "%s",
  (dir) => {
    let manifests: Manifest[];
    beforeAll(async () => {
      manifests = await render(dir);
    });

    it("renders with kustomize and validates against the Kubernetes schemas", async () => {
      expect(manifests.length).toBeGreaterThan(3);
      for (const manifest of manifests) await validate(manifest);
    });

    it("runs hardened, probed, resource-bounded containers", () => {
      const workloads = manifests.filter((m) => m.kind === "Deployment");
      expect(workloads).toHaveLength(1);
      for (const workload of workloads) expectHardened(workload);
    });

    it("ships a config that trustpub loads", async () => {
      await expectLoadableConfig(manifests, find(manifests, "Deployment")!);
    });
  },
);

describe("schema validation", () => {
  it("refuses what the Kubernetes schemas refuse", async () => {
    const [deployment] = (await render("deploy/base")).filter((m) => m.kind === "Deployment");
    await expect(
      validate({ ...deployment!, spec: { ...deployment!.spec, replicas: "three" } }),
    ).rejects.toThrow(/replicas must be integer/);
    const broken = structuredClone(deployment!);
    delete broken.spec.template.spec.containers[0].name;
    await expect(validate(broken)).rejects.toThrow(
      /containers\/0 must have required property name/,
    );
    await expect(validate({ ...deployment!, apiVersion: "apps/v1beta1" })).rejects.toThrow(
      /no schema/,
    );
  });
});

describe("deploy/base", () => {
  it("has a Deployment, Service, ConfigMap, PodDisruptionBudget, HorizontalPodAutoscaler and NetworkPolicy that fit together", async () => {
    const manifests = await render("deploy/base");
    const kinds = new Set(manifests.map((m) => m.kind));
    for (const kind of [
      "Deployment",
      "Service",
      "ConfigMap",
      "PodDisruptionBudget",
      "HorizontalPodAutoscaler",
      "NetworkPolicy",
    ]) {
      expect(kinds, kind).toContain(kind);
    }
    const deployment = find(manifests, "Deployment")!;
    const podLabels = deployment.spec.template.metadata.labels;
    const selects = (selector: Record<string, string>) =>
      Object.entries(selector).every(([k, v]) => podLabels[k] === v);
    expect(selects(deployment.spec.selector.matchLabels)).toBe(true);
    expect(selects(find(manifests, "Service")!.spec.selector)).toBe(true);
    expect(selects(find(manifests, "PodDisruptionBudget")!.spec.selector.matchLabels)).toBe(true);
    expect(selects(find(manifests, "NetworkPolicy")!.spec.podSelector.matchLabels)).toBe(true);
    expect(find(manifests, "HorizontalPodAutoscaler")!.spec.scaleTargetRef).toEqual({
      apiVersion: "apps/v1",
      kind: "Deployment",
      name: deployment.metadata.name,
    });
    const container = trustpubContainer(deployment);
    expect(container.readinessProbe.httpGet).toMatchObject({ path: "/readyz", port: "http" });
    expect(container.livenessProbe.httpGet).toMatchObject({ path: "/healthz", port: "http" });
    expect(find(manifests, "Service")!.spec.ports[0].targetPort).toBe("http");
    expect(
      container.env.find((e: { name: string }) => e.name === "REDIS_URL").valueFrom.secretKeyRef,
    ).toMatchObject({
      name: "trustpub-redis",
      key: "url",
    });
    // Egress to HTTPS never reaches the metadata service or private ranges.
    const https = find(manifests, "NetworkPolicy")!.spec.egress.find((rule: Json) =>
      rule.ports?.some((p: { port: number }) => p.port === 443),
    );
    expect(https.to[0].ipBlock.except).toEqual(
      expect.arrayContaining(["169.254.0.0/16", "10.0.0.0/8"]),
    );
  });
});

describe("deploy/overlays/production", () => {
  it("runs at least three replicas in its namespace against the existing Redis", async () => {
    const manifests = await render("deploy/overlays/production");
    for (const m of manifests.filter((m) => m.kind !== "Namespace")) {
      expect(m.metadata.namespace, `${m.kind} ${m.metadata.name}`).toBe("trustpub");
    }
    expect(find(manifests, "Namespace")!.metadata.labels).toMatchObject({
      "pod-security.kubernetes.io/enforce": "restricted",
    });
    expect(find(manifests, "Deployment")!.spec.replicas).toBe(3);
    expect(find(manifests, "HorizontalPodAutoscaler")!.spec.minReplicas).toBe(3);
    expect(find(manifests, "PodDisruptionBudget")!.spec.minAvailable).toBe(2);
    const redisRule = find(manifests, "NetworkPolicy")!.spec.egress.find((rule: Json) =>
      rule.ports?.some((p: { port: number }) => p.port === 6379),
    );
    expect(redisRule.to).toEqual([
      { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "redis" } } },
    ]);
  });
});

describe("deploy/overlays/sidecar", () => {
  it("runs trustpub on 127.0.0.1 inside the registry's pod, unreachable from outside it", async () => {
    const manifests = await render("deploy/overlays/sidecar");
    expect(manifests.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual(
      expect.arrayContaining(["Deployment/registry", "Service/registry", "NetworkPolicy/registry"]),
    );
    expect(find(manifests, "Deployment", "trustpub")).toBeUndefined();
    expect(find(manifests, "HorizontalPodAutoscaler")).toBeUndefined();
    const registry = find(manifests, "Deployment", "registry")!;
    const sidecar = trustpubContainer(registry);
    expect(sidecar.restartPolicy).toBe("Always");
    expect(sidecar.env.find((e: { name: string }) => e.name === "HOST").value).toBe("127.0.0.1");
    expect(sidecar.ports).toBeUndefined();
    for (const probe of [sidecar.startupProbe, sidecar.readinessProbe, sidecar.livenessProbe]) {
      expect(probe.httpGet).toBeUndefined();
      expect(probe.exec.command.join(" ")).toContain("http://127.0.0.1:8080/");
    }
    const policy = find(manifests, "NetworkPolicy", "registry")!;
    expect(policy.spec.podSelector.matchLabels).toEqual({ "app.kubernetes.io/name": "registry" });
    expect(policy.spec.ingress.flatMap((r: Json) => r.ports.map((p: Json) => p.port))).toEqual([
      4873,
    ]);
  });
});
