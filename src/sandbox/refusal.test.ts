import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { EngineError } from "./engine.js";
import { imageRefusal, ImageRefusedError } from "./refusal.js";
import { runSandboxed } from "./run.js";
import { engineRuntimes } from "./runtimes.js";
import { leftoversOf, TEST_LIMITS, workspace, type Workspace } from "./test-support/fixtures.js";

const docker = promisify(execFile);
const base = inject("baseImage");
const RUNTIMES = (await engineRuntimes()).filter((r) => r === "runc" || r === "runsc");
const LABEL = `org.proctor.test=refusal-${randomBytes(4).toString("hex")}`;
/** Images whose configuration the engine refuses (some only under runc: gVisor sets up its own /proc, /dev). */
const BAD_CONFIGS = {
  "VOLUME /proc": { change: "VOLUME /proc", runscRefuses: false },
  "VOLUME /dev": { change: "VOLUME /dev", runscRefuses: false },
  "USER 1000:nosuchgroup": { change: "USER 1000:nosuchgroup", runscRefuses: true },
  "USER nosuchuser": { change: "USER nosuchuser", runscRefuses: true },
};
const images: Record<string, string> = {};
let ws: Workspace;
let source = "";

beforeAll(async () => {
  ws = await workspace(base);
  source = (await docker("docker", ["create", "--label", LABEL, base, "true"])).stdout.trim();
  for (const [name, { change }] of Object.entries(BAD_CONFIGS)) {
    const committed = await docker("docker", [
      "commit",
      "--change",
      change,
      "--change",
      `LABEL ${LABEL}`,
      source,
    ]);
    images[name] = committed.stdout.trim();
  }
});
afterAll(async () => {
  if (source) await docker("docker", ["rm", source]).catch(() => undefined);
  for (const id of Object.values(images)) await docker("docker", ["rmi", id]).catch(() => undefined);
  await ws.cleanup();
});

async function run(runtime: string, image: string, participantImage: boolean, workingDir = "/") {
  const request = await ws.request("", {
    image,
    holderImage: base,
    command: ["true"],
    workingDir,
    limits: { ...TEST_LIMITS, runtime },
  });
  const result = await runSandboxed({ ...request, participantImage });
  expect(await leftoversOf(request.runId)).toEqual([]);
  return result;
}

describe.each(RUNTIMES)("what the engine refuses because of the image, under %s", (runtime) => {
  it.each(Object.keys(BAD_CONFIGS))(
    "%s: a participant's image is never infrastructure_error; the platform's own is",
    async (name) => {
      const { runscRefuses } = BAD_CONFIGS[name as keyof typeof BAD_CONFIGS];
      const theirs = await run(runtime, images[name]!, true);
      expect(theirs.status, theirs.reason).not.toBe("infrastructure_error");
      if (runtime === "runsc" && !runscRefuses) return;
      expect(theirs.status).toBe("invalid_submission");
      expect(theirs.reason).toMatch(
        /^the Docker engine refused to (create a container from|start) the image as its configuration asks \(HTTP (400|500)\): ".+"; .*fix the image's configuration/,
      );
      const ours = await run(runtime, images[name]!, false);
      expect(ours.status).toBe("infrastructure_error");
    },
  );

  it("a WORKDIR that is a file of the image: the participant's", async () => {
    const theirs = await run(runtime, base, true, "/etc/passwd");
    expect(theirs.status, theirs.reason).toBe("invalid_submission");
    expect(theirs.reason).toContain("not a directory");
  });

  it("a relative WORKDIR: refused at create, the participant's", async () => {
    const theirs = await run(runtime, base, true, "rel");
    expect(theirs.status).toBe("invalid_submission");
    expect(theirs.reason).toContain(`(HTTP 400): "the working directory 'rel' is invalid`);
    expect((await run(runtime, base, false, "rel")).status).toBe("infrastructure_error");
  });
});

describe("imageRefusal", () => {
  const answered = (statusCode: number | undefined, message: string) =>
    new EngineError(`Docker engine error while starting the sandbox: ${message}`, {
      cause: Object.assign(new Error(message), { statusCode, json: { message } }),
    });

  it("takes an engine's 400, and its 500 for a user or group the image lacks, as the image's", () => {
    expect(imageRefusal(answered(400, "OCI runtime create failed: mount /proc"), "to start")).toBeInstanceOf(
      ImageRefusedError,
    );
    expect(
      imageRefusal(answered(500, "unable to find group g: no matching entries in group file"), "to start"),
    ).toBeInstanceOf(ImageRefusedError);
  });

  it("takes what the container's setup met on the image's own paths as the image's, even read-only ones", () => {
    expect(
      imageRefusal(answered(500, "Cannot mkdir: /opt/probe.py is not a directory"), "to create"),
    ).toBeInstanceOf(ImageRefusedError);
    const init =
      "OCI runtime create failed: container_linux.go:380: starting container process caused: process_linux.go:545: " +
      "container init caused: error during container init: mkdir /linput/newdir: read-only file system: unknown";
    expect(imageRefusal(answered(500, init), "to start")).toBeInstanceOf(ImageRefusedError);
    // The engine's own folders being read-only is the host's.
    const host =
      "error during container init: mkdir /var/lib/docker/overlay2/x/merged: read-only file system";
    expect(imageRefusal(answered(500, host), "to start")).toBeNull();
    expect(imageRefusal(answered(500, "mkdir /var/lib/docker/tmp: read-only file system"), "x")).toBeNull();
  });

  it("leaves the host's faults, other 5xx and errors without an engine's answer to the platform", () => {
    expect(imageRefusal(answered(400, "OCI runtime create failed: no space left on device"), "x")).toBeNull();
    expect(imageRefusal(answered(400, "mkdir: cannot allocate memory"), "x")).toBeNull();
    expect(imageRefusal(answered(500, "containerd: shim died"), "x")).toBeNull();
    expect(imageRefusal(answered(404, "no such image"), "x")).toBeNull();
    expect(imageRefusal(answered(undefined, "connect ECONNREFUSED"), "x")).toBeNull();
    expect(imageRefusal(new Error("the working directory 'rel' is invalid"), "x")).toBeNull();
  });

  it("repeats the engine's message escaped and capped", () => {
    const message = `unable to find user "a\nb" ${"x".repeat(1000)}`;
    const refused = imageRefusal(answered(500, message), "to start")!;
    expect(refused.message).toContain(String.raw`"unable to find user \"a\nb\" xxx`);
    expect(refused.message).not.toContain("x".repeat(301));
    expect(refused.message).toContain('x…"');
  });
});
