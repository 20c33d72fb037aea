/**
 * The runner pods' engine image (deploy/engine.Dockerfile), built and started on the real engine with the
 * flags the pods give it (read from deploy/kubernetes/runner-cpu.yaml). Docker Hub cannot be reached here,
 * so the build starts from the project's offline Debian bookworm base instead of debian:12.12-slim (the
 * same release); the rest of the file is built as written, from Debian's mirror. This machine cannot start a
 * privileged container (its capability bounding set lacks CAP_SYS_RESOURCE), so the engine runs with
 * CAP_SYS_ADMIN and CAP_NET_ADMIN only: enough for dockerd to come up and answer with its runtimes, socket
 * and networks, not to start containers of its own (its cgroups are read-only). Running a sandbox inside
 * it is left to a cluster (docs/scale.md says so).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parseAllDocuments } from "yaml";

const ROOT = join(import.meta.dirname, "..");
const DEPLOY = join(ROOT, "deploy");
const LABEL = "org.proctor.test=deploy-engine";
const SOCKET = "unix:///run/engine/docker.sock";

const docker = (...args: string[]) =>
  execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();

/** The engine container's args in the cpu runner pod. */
function engineArgs(): string[] {
  const [deployment] = parseAllDocuments(
    readFileSync(join(DEPLOY, "kubernetes/runner-cpu.yaml"), "utf8"),
  ).map(
    (d) =>
      d.toJS() as { spec: { template: { spec: { initContainers: { name: string; args: string[] }[] } } } },
  );
  return deployment!.spec.template.spec.initContainers.find((c) => c.name === "engine")!.args;
}

/** Builds the engine image from the offline base (cached by a hash of what goes in). */
function buildEngine(base: string): string {
  const dockerfile = readFileSync(join(DEPLOY, "engine.Dockerfile"), "utf8");
  const from = /^FROM debian:\S+ AS cpu$/m;
  expect(dockerfile).toMatch(from);
  const local = dockerfile.replace(from, `FROM ${base} AS cpu`);
  const files = ["engine/daemon.json", "engine/entrypoint.sh"];
  const hash = createHash("sha256")
    .update(local)
    .update(files.map((f) => readFileSync(join(DEPLOY, f))).join("\0"))
    .digest("hex")
    .slice(0, 12);
  const tag = `proctor/deploy-engine-check:${hash}`;
  if (spawnSync("docker", ["image", "inspect", tag], { stdio: "ignore" }).status === 0) return tag;
  const context = mkdtempSync(join(tmpdir(), "proctor-engine-context-"));
  try {
    mkdirSync(join(context, "deploy"));
    cpSync(join(DEPLOY, "engine"), join(context, "deploy/engine"), { recursive: true });
    writeFileSync(join(context, "Dockerfile"), local);
    execFileSync("docker", ["build", "-q", "--target", "cpu", "--label", LABEL, "-t", tag, context], {
      stdio: ["ignore", "ignore", "inherit"],
      timeout: 600_000,
    });
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
  return tag;
}

const started: string[] = [];
function startEngine(image: string, args: string[]): string {
  const id = docker(
    "run",
    "-d",
    "--label",
    LABEL,
    "--network",
    "none",
    "--cap-add",
    "SYS_ADMIN",
    "--cap-add",
    "NET_ADMIN",
    "--tmpfs",
    "/run/engine",
    image,
    ...args,
  );
  started.push(id);
  return id;
}

/** `docker info` of the engine inside the container, once it answers (null: it never did, or it exited). */
async function engineInfo(id: string): Promise<Record<string, unknown> | null> {
  for (let i = 0; i < 120; i++) {
    const info = spawnSync(
      "docker",
      ["exec", id, "docker", `--host=${SOCKET}`, "info", "--format", "{{json .}}"],
      {
        encoding: "utf8",
      },
    );
    // The CLI also exits 0 with ServerErrors while the daemon is still coming up: that is not an answer yet.
    const answer = info.status === 0 ? (JSON.parse(info.stdout) as Record<string, unknown>) : null;
    if (answer && !answer.ServerErrors) return answer;
    if (docker("inspect", "-f", "{{.State.Running}}", id) !== "true") return null;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return null;
}

describe("the engine image, started with the runner pod's flags", () => {
  let image: string;
  beforeAll(() => {
    image = buildEngine(inject("baseImage"));
  }, 900_000);
  afterAll(() => {
    for (const id of started) spawnSync("docker", ["rm", "-f", "-v", id], { stdio: "ignore" });
  });

  it("answers on the pod's socket only, for the runner's group, with runsc registered and no bridge", async () => {
    const id = startEngine(image, engineArgs());
    const info = await engineInfo(id);
    expect(info, docker("logs", "--tail", "20", id)).not.toBeNull();
    expect((info!.Runtimes as Record<string, unknown>).runsc).toEqual({
      path: "/usr/bin/runsc",
      runtimeArgs: ["--platform=ptrace", "--network=none"],
    });
    // Only a unix socket, owned by the runner's group (1000) and no one else's.
    expect(docker("exec", id, "stat", "-c", "%a %g %F", "/run/engine/docker.sock")).toBe("660 1000 socket");
    // No TCP port: nothing else in the cluster can reach this engine (0A: a listening socket).
    const listening = "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk '$4 == \"0A\"' | wc -l";
    expect(docker("exec", id, "sh", "-c", listening)).toBe("0");
    // Every sandbox runs with network mode none: the engine has no bridge to give one.
    const networks = docker(
      "exec",
      id,
      "docker",
      `--host=${SOCKET}`,
      "network",
      "ls",
      "--format",
      "{{.Name}}",
    );
    expect(networks.split("\n").sort()).toEqual(["host", "none"]);
  });

  it("a flag dockerd refuses ends the sidecar at once, naming it (Kubernetes shows why, and restarts it)", async () => {
    const id = startEngine(image, [...engineArgs(), "--no-such-flag"]);
    expect(await engineInfo(id)).toBeNull();
    docker("wait", id);
    expect(Number(docker("inspect", "-f", "{{.State.ExitCode}}", id))).not.toBe(0);
    expect(spawnSync("docker", ["logs", id], { encoding: "utf8" }).stderr).toMatch(
      /unknown flag: --no-such-flag/,
    );
  });
});
