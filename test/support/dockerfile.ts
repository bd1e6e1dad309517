/** One instruction of a Dockerfile: `COPY --from=deps /a /b` is { op: "COPY", args: "--from=deps /a /b" }. */
export interface Instruction {
  readonly op: string;
  readonly args: string;
}

export interface Stage {
  readonly name: string | undefined;
  readonly from: string;
  readonly instructions: readonly Instruction[];
}

export interface Dockerfile {
  readonly args: Readonly<Record<string, string>>;
  readonly stages: readonly Stage[];
}

/** Enough of the Dockerfile grammar for what this project writes: comments, `\` continuations, ARG defaults. */
export function parseDockerfile(text: string): Dockerfile {
  const lines = text
    .replace(/\\\r?\n/g, " ")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  const args: Record<string, string> = {};
  const stages: { name: string | undefined; from: string; instructions: Instruction[] }[] = [];
  for (const line of lines) {
    const [, op = "", rest = ""] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const instruction = { op: op.toUpperCase(), args: rest.replace(/\s+/g, " ").trim() };
    if (instruction.op === "FROM") {
      const [image = "", as, name] = instruction.args.split(" ");
      const resolved = image.replace(/\$\{(\w+)\}/g, (_, key: string) => args[key] ?? "");
      stages.push({
        name: as?.toUpperCase() === "AS" ? name : undefined,
        from: resolved,
        instructions: [],
      });
    } else if (stages.length === 0 && instruction.op === "ARG") {
      const [key, value = ""] = instruction.args.split("=");
      args[key!] = value;
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return { args, stages };
}

/** `ENV A=1 B=2` of a stage, merged in order. */
export function stageEnv(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { op, args } of stage.instructions) {
    if (op !== "ENV") continue;
    for (const pair of args.match(/\S+=("[^"]*"|\S*)/g) ?? []) {
      const eq = pair.indexOf("=");
      env[pair.slice(0, eq)] = pair.slice(eq + 1).replace(/^"|"$/g, "");
    }
  }
  return env;
}

/** The last value of a single-valued instruction (WORKDIR, USER), or the JSON array of ENTRYPOINT/CMD. */
export function last(stage: Stage, op: string): string | undefined {
  return stage.instructions.filter((i) => i.op === op).at(-1)?.args;
}
