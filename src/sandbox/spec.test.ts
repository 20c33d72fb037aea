import { describe, expect, it } from "vitest";
import { LEASE_LABEL, LEASE_MARGIN_MS } from "./cleanup.js";
import {
  holderContainerSpec,
  interactiveRunArgs,
  outputVolumeOptions,
  RUNSC_THREADS,
  tmpOptions,
  untrustedContainerSpec,
} from "./spec.js";
import { TEST_LIMITS } from "./test-support/fixtures.js";

const image = {
  ref: "img",
  id: "sha256:1",
  digest: null,
  user: null,
  hasEntrypoint: true,
  sizeBytes: 1,
  layers: [],
  volumes: [],
};
const request = {
  runId: "r",
  image: "img",
  command: [],
  workingDir: "/code_execution/src",
  mounts: [{ source: "/host/src", target: "/code_execution/src" }],
  output: { target: "/code_execution/submission", hostDir: "/host/out" },
  limits: TEST_LIMITS,
};

describe("container spec", () => {
  it("runs as the user the caller resolved (a participant's image: numeric, never 0)", () => {
    expect(untrustedContainerSpec({ ...request, user: "1000:65534" }, image, "vol").User).toBe("1000:65534");
    expect(untrustedContainerSpec(request, { ...image, user: "app" }, "vol").User).toBe("app");
  });

  it("isolates: no network, read-only root, no capabilities, no-new-privileges, non-root, limits", () => {
    const spec = untrustedContainerSpec(request, image, "vol");
    const host = spec.HostConfig!;
    expect(spec.User).toBe("65534:65534");
    // By the id resolved at the start, never by tag.
    expect(spec.Image).toBe("sha256:1");
    expect(spec.NetworkDisabled).toBe(true);
    expect(host).toMatchObject({
      NetworkMode: "none",
      ReadonlyRootfs: true,
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      Privileged: false,
      Init: true,
      Memory: TEST_LIMITS.memoryBytes,
      MemorySwap: TEST_LIMITS.memoryBytes,
      PidsLimit: TEST_LIMITS.pids,
      NanoCpus: TEST_LIMITS.cpus * 1e9,
    });
    expect(host.Mounts).toContainEqual(expect.objectContaining({ Source: "/host/src", ReadOnly: true }));
    expect(host.Mounts).toContainEqual(
      expect.objectContaining({ Type: "volume", Source: "vol", Target: "/code_execution/submission" }),
    );
  });

  it("gives an interactive shell the same limits and mounts as docker run flags", () => {
    const args = interactiveRunArgs({ ...request, gpu: true }, image, false);
    const joined = args.join(" ");
    expect(args.slice(0, 3)).toEqual(["run", "--rm", "-i"]);
    for (const flag of [
      "--network none",
      "--read-only",
      "--cap-drop ALL",
      "--security-opt no-new-privileges",
      "--user 65534:65534",
      `--memory ${TEST_LIMITS.memoryBytes}`,
      `--memory-swap ${TEST_LIMITS.memoryBytes}`,
      `--pids-limit ${TEST_LIMITS.pids}`,
      "--mount type=bind,source=/host/src,target=/code_execution/src,readonly",
      `--tmpfs /tmp:rw,exec,nosuid,nodev,size=${TEST_LIMITS.tmpBytes},mode=1777`,
      `--mount type=volume,target=/code_execution/submission,volume-nocopy,volume-opt=type=tmpfs,volume-opt=device=tmpfs,"volume-opt=o=size=${TEST_LIMITS.outputBytes},nr_inodes=${TEST_LIMITS.outputFiles + 1},mode=1777,nosuid,nodev"`,
      "--gpus all",
    ]) {
      expect(joined).toContain(flag);
    }
    // The image's own entrypoint and command, as a run has them.
    expect(args).not.toContain("--entrypoint");
    expect(args.at(-1)).toBe("img");
    expect(interactiveRunArgs(request, image, true)).toContain("-it");
  });

  it("gives the interactive session the run's entrypoint and command when it replaces the image's", () => {
    const args = interactiveRunArgs(
      { ...request, entrypoint: ["python3", "-u"], command: ["main.py"] },
      image,
      false,
    );
    expect(args.slice(-5)).toEqual(["--entrypoint", "python3", "img", "-u", "main.py"]);
  });

  it("sets HOME to /tmp for the runtime, and leaves a participant's image its own (pip install --user)", () => {
    expect(untrustedContainerSpec(request, image, "vol").Env).toEqual(
      expect.arrayContaining(["HOME=/tmp", "TMPDIR=/tmp"]),
    );
    const own = untrustedContainerSpec({ ...request, participantImage: true }, image, "vol").Env!;
    expect(own).toContain("TMPDIR=/tmp");
    expect(own.some((entry) => entry.startsWith("HOME="))).toBe(false);
  });

  it("lets programs run what they build in /tmp (JIT caches), never setuid or device files", () => {
    const tmp = untrustedContainerSpec(request, image, "vol").HostConfig!.Tmpfs!["/tmp"]!;
    expect(tmp.split(",")).toEqual(expect.arrayContaining(["exec", "nosuid", "nodev"]));
    expect(tmp).not.toMatch(/noexec/);
  });

  it("puts a capped tmpfs on the image's VOLUME folders, never an uncapped anonymous volume", () => {
    const declaring = { ...image, volumes: ["/scratch", "/cache/", "/code_execution/submission", "/tmp"] };
    const tmpfs = untrustedContainerSpec(request, declaring, "vol").HostConfig!.Tmpfs!;
    expect(tmpfs).toEqual({
      "/tmp": tmpOptions(TEST_LIMITS),
      "/scratch": tmpOptions(TEST_LIMITS),
      "/cache": tmpOptions(TEST_LIMITS),
    });
  });

  it("keeps the output volume's own mode: not copied from the image's folder", () => {
    const mounts = untrustedContainerSpec(request, image, "vol").HostConfig!.Mounts!;
    expect(mounts.find((m) => m.Type === "volume")).toMatchObject({ VolumeOptions: { NoCopy: true } });
  });

  it("shows an engine volume (the models) read-only, never filled from the image, in runs and shells alike", () => {
    const models = { source: "proctor-models-x", target: "/code_execution/models", kind: "volume" as const };
    const withModels = { ...request, mounts: [...request.mounts, models] };
    const mounts = untrustedContainerSpec(withModels, image, "vol").HostConfig!.Mounts!;
    expect(mounts.find((m) => m.Target === models.target)).toEqual({
      Type: "volume",
      Source: "proctor-models-x",
      Target: "/code_execution/models",
      ReadOnly: true,
      VolumeOptions: { NoCopy: true },
    });
    expect(interactiveRunArgs(withModels, image, false)).toContain(
      "type=volume,source=proctor-models-x,target=/code_execution/models,readonly,volume-nocopy",
    );
  });

  it("names the runtime, and under runsc leaves gVisor's own threads room in the pids cgroup", () => {
    const runc = untrustedContainerSpec(request, image, "vol").HostConfig!;
    expect(runc).toMatchObject({ Runtime: "runc", PidsLimit: TEST_LIMITS.pids });
    const gvisor = { ...request, limits: { ...TEST_LIMITS, runtime: "runsc" } };
    expect(untrustedContainerSpec(gvisor, image, "vol").HostConfig).toMatchObject({
      Runtime: "runsc",
      PidsLimit: TEST_LIMITS.pids + RUNSC_THREADS,
    });
    expect(interactiveRunArgs(gvisor, image, false).join(" ")).toContain("--runtime runsc");
  });

  it("leases every container and volume until past the time limit, the grace and a margin", () => {
    const before = Date.now();
    const deadline = before + TEST_LIMITS.timeLimitMs + TEST_LIMITS.graceMs + LEASE_MARGIN_MS;
    for (const labels of [
      untrustedContainerSpec(request, image, "vol").Labels,
      holderContainerSpec(request).Labels,
      outputVolumeOptions(request).Labels,
    ]) {
      expect(Number(labels?.[LEASE_LABEL])).toBeGreaterThanOrEqual(deadline);
      expect(Number(labels?.[LEASE_LABEL])).toBeLessThan(deadline + 60_000);
      expect(labels?.["org.proctor.run"]).toBe("r");
    }
  });
});
