import { randomBytes } from "node:crypto";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { LEASE_LABEL, loadedImageTag, OWNER_LABEL, sweepExpired } from "./cleanup.js";
import { engine } from "./engine.js";
import { runSandboxed } from "./run.js";
import { leftoversOf, TEST_LIMITS, workspace, type Workspace } from "./test-support/fixtures.js";

const image = inject("baseImage");
/** Marks what this file makes, so it removes only its own. */
const TEST_LABEL = `org.proctor.test=${randomBytes(4).toString("hex")}`;
let ws: Workspace;

beforeAll(async () => {
  ws = await workspace(image);
});
afterAll(async () => {
  const filters = JSON.stringify({ label: [TEST_LABEL] });
  const docker = engine();
  for (const c of await docker.listContainers({ all: true, filters }))
    await docker.getContainer(c.Id).remove({ force: true });
  for (const v of (await docker.listVolumes({ filters })).Volumes ?? [])
    await docker.getVolume(v.Name).remove({ force: true });
  await ws.cleanup();
});

const [testKey, testValue] = TEST_LABEL.split("=") as [string, string];

async function container(labels: Record<string, string>): Promise<string> {
  const made = await engine().createContainer({
    Image: image,
    Cmd: ["true"],
    Labels: { ...labels, [testKey]: testValue },
    HostConfig: { NetworkMode: "none" },
  });
  return made.id;
}

async function exists(id: string): Promise<boolean> {
  return engine()
    .getContainer(id)
    .inspect()
    .then(
      () => true,
      () => false,
    );
}

describe("leases", () => {
  it("the sweeper removes what is past its lease, and nothing within it or without one", async () => {
    const past = String(Date.now() - 1000);
    const future = String(Date.now() + 3_600_000);
    const expired = await container({ [LEASE_LABEL]: past, [OWNER_LABEL]: "elsewhere:1" });
    const live = await container({ [LEASE_LABEL]: future, [OWNER_LABEL]: "elsewhere:2" });
    // An older proctor's container (owner, no lease): nothing proves it dead, so it stays.
    const legacy = await container({ [OWNER_LABEL]: "elsewhere:3" });
    const volume = `proctor-test-${randomBytes(4).toString("hex")}`;
    await engine().createVolume({ Name: volume, Labels: { [LEASE_LABEL]: past, [testKey]: testValue } });

    // Other runs sweep too (tests run in parallel): what counts is what is left, not who removed it.
    await sweepExpired();

    expect(await exists(expired)).toBe(false);
    expect(await exists(live)).toBe(true);
    expect(await exists(legacy)).toBe(true);
    const volumes = await engine().listVolumes({ filters: JSON.stringify({ name: [volume] }) });
    expect(volumes.Volumes ?? []).toEqual([]);
  });

  it("every container and volume of a run carries a lease past its time limit and grace", async () => {
    const request = await ws.request(
      `import json, time\ntime.sleep(1.5)\nopen("/code_execution/submission/submission.csv", "w").write("id\\n")\n`,
    );
    const before = Date.now();
    const running = runSandboxed(request);
    const filters = JSON.stringify({ label: [`org.proctor.run=${request.runId}`] });
    let leases: number[] = [];
    for (let i = 0; i < 50 && leases.length < 3; i++) {
      const [containers, volumes] = await Promise.all([
        engine().listContainers({ all: true, filters }),
        engine().listVolumes({ filters }),
      ]);
      leases = [...containers.map((c) => c.Labels), ...(volumes.Volumes ?? []).map((v) => v.Labels)].map(
        (labels) => Number(labels?.[LEASE_LABEL]),
      );
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await running).status).toBe("succeeded");
    expect(leases).toHaveLength(3); // sandbox, holder, output volume
    for (const lease of leases)
      expect(lease).toBeGreaterThan(before + TEST_LIMITS.timeLimitMs + TEST_LIMITS.graceMs);
  });
});

describe("loaded images", () => {
  it("the sweeper untags a loaded image past its lease, and leaves one within it", async () => {
    const id = randomBytes(4).toString("hex");
    const limits = { timeLimitMs: 1000, graceMs: 1000 };
    const past = loadedImageTag(`past-${id}`, limits, Date.now() - 1000 * 3600_000);
    const live = loadedImageTag(`live-${id}`, limits);
    const base = engine().getImage(image);
    for (const tag of [past, live]) {
      const [repo, version] = tag.split(":") as [string, string];
      await base.tag({ repo, tag: version });
    }
    try {
      await sweepExpired();
      const tags = (await base.inspect()).RepoTags;
      expect(tags).toContain(live);
      expect(tags).not.toContain(past);
    } finally {
      for (const tag of [past, live])
        await engine()
          .getImage(tag)
          .remove()
          .catch(() => undefined);
    }
  });
});

describe("a refused start leaves nothing behind", () => {
  async function refused(overrides: Parameters<Workspace["request"]>[1]) {
    const request = await ws.request(`print("never runs")\n`, overrides);
    const result = await runSandboxed(request);
    return { result, leftovers: await leftoversOf(request.runId) };
  }

  it("a memory limit the engine refuses: infrastructure_error, no container, no volume re-created", async () => {
    const { result, leftovers } = await refused({ limits: { ...TEST_LIMITS, memoryBytes: 4 * 1024 ** 2 } });
    expect(result.status).toBe("infrastructure_error");
    expect(result.reason).toMatch(/creating the sandbox container/);
    expect(leftovers).toEqual([]);
  });

  it("a bind source that is gone: infrastructure_error, nothing left", async () => {
    const { result, leftovers } = await refused({
      mounts: [{ source: path.join(ws.root, "vanished"), target: "/code_execution/src" }],
    });
    expect(result.status).toBe("infrastructure_error");
    expect(leftovers).toEqual([]);
  });

  it("an unknown runtime names the engine's runtimes and how to register runsc", async () => {
    const { result, leftovers } = await refused({ limits: { ...TEST_LIMITS, runtime: "kata-nope" } });
    expect(result.status).toBe("infrastructure_error");
    expect(result.reason).toMatch(
      /runtime "kata-nope" is not registered with this Docker engine \(it has: .*runc/,
    );
    expect(result.runtime).toBe("kata-nope");
    expect(leftovers).toEqual([]);
  });
});
