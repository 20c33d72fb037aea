import { createServer as createTcpServer, type Server } from "node:net";
import { createSocket } from "node:dgram";
import { lstat, readFile, readdir, rm } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { engine } from "./engine.js";
import { runSandboxed, type SandboxResult } from "./run.js";
import { engineRuntimes } from "./runtimes.js";
import { untrustedContainerSpec } from "./spec.js";
import { filesIn, leftoversOf, TEST_LIMITS, workspace, type Workspace } from "./test-support/fixtures.js";

const image = inject("baseImage");
let ws: Workspace;

beforeAll(async () => {
  ws = await workspace(image);
});
afterAll(async () => {
  await ws.cleanup();
});

/** The adversarial tests run under every runtime the engine has of these (CI registers runsc). */
const RUNTIMES = (await engineRuntimes()).filter((r) => r === "runc" || r === "runsc");
if (!RUNTIMES.includes("runsc"))
  console.warn(
    "runsc is not registered with this engine: the gVisor runs are skipped (scripts/ensure-engine.sh)",
  );

/** Runs `program` as main.py and checks what every run must leave behind: nothing. */
async function runUnder(
  runtime: string,
  program: string,
  limits: Partial<typeof TEST_LIMITS> = {},
  extra = {},
): Promise<SandboxResult> {
  const request = await ws.request(program, { limits: { ...TEST_LIMITS, runtime, ...limits }, ...extra });
  await rm(ws.out, { recursive: true, force: true });
  const result = await runSandboxed(request);
  // Said where it shows when an assertion on the status fails: an infrastructure error's cause.
  if (result.status === "infrastructure_error") console.warn(`${request.runId}: ${result.reason}`);
  expect(await leftoversOf(request.runId)).toEqual([]);
  return result;
}

const WRITE_OUTPUT = `open("/code_execution/submission/submission.csv", "w").write("id,y\\n1,0\\n")\n`;

describe.each(RUNTIMES)("under %s", (runtime) => {
  const run = (program: string, limits: Partial<typeof TEST_LIMITS> = {}, extra = {}) =>
    runUnder(runtime, program, limits, extra);

  describe("a well-behaved program", () => {
    it("succeeds, with stdout and stderr kept apart, the output copied out and the image named by id", async () => {
      const result = await run(
        `import sys\nprint("to stdout")\nprint("to stderr", file=sys.stderr)\n${WRITE_OUTPUT}`,
      );
      expect(result.status).toBe("succeeded");
      expect(result.exitCode).toBe(0);
      expect(result.stdout.text).toBe("to stdout\n");
      expect(result.stderr.text).toBe("to stderr\n");
      expect(result.stderr.lines).toBe(1);
      expect(result.image?.id).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(result.output?.files).toEqual([{ path: "submission.csv", bytes: 9 }]);
      expect(await readFile(path.join(ws.out, "submission.csv"), "utf8")).toBe("id,y\n1,0\n");
    });

    it("runs as a non-root user with no capabilities, no-new-privileges, and can't become root", async () => {
      const result = await run(`
import os
status = open("/proc/self/status").read()
fields = dict(line.split(":\\t", 1) for line in status.splitlines() if ":\\t" in line)
print("uid", os.getuid(), os.getgid())
for key in ("CapEff", "CapPrm", "CapBnd"):
    print(key, fields[key].strip())
import ctypes
print("NoNewPrivs", ctypes.CDLL(None).prctl(39, 0, 0, 0, 0))  # PR_GET_NO_NEW_PRIVS: gVisor has no such /proc line
for attempt in (lambda: os.setuid(0), lambda: os.chown("/tmp", 0, 0), lambda: os.chroot("/tmp")):
    try:
        attempt(); print("escalated")
    except PermissionError:
        print("refused")
${WRITE_OUTPUT}`);
      expect(result.status).toBe("succeeded");
      const out = result.stdout.text;
      expect(out).toContain("uid 65534 65534");
      expect(out).toContain("CapEff 0000000000000000");
      expect(out).toContain("CapPrm 0000000000000000");
      expect(out).toContain("CapBnd 0000000000000000");
      expect(out).toContain("NoNewPrivs 1");
      expect(out).not.toContain("escalated");
      expect(out.match(/refused/g)).toHaveLength(3);
    });

    it("has the limits applied in its cgroup: memory, cpu quota, pids, nofile, /tmp size", async () => {
      const result = await run(
        `
import os, resource
def read(*paths):
    for p in paths:
        if os.path.exists(p):
            return open(p).read().strip()
    return "?"
print("memory", read("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory.max"))
print("quota", read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu.max"))
print("pids", read("/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/pids.max"))
print("nofile", resource.getrlimit(resource.RLIMIT_NOFILE))
st = os.statvfs("/tmp"); print("tmp", st.f_blocks * st.f_frsize)
${WRITE_OUTPUT}`,
        { memoryBytes: 200 * 1024 ** 2, cpus: 0.5, pids: 40, nofile: 321 },
      );
      expect(result.status).toBe("succeeded");
      const out = result.stdout.text;
      expect(out).toContain("nofile (321, 321)");
      expect(out).toContain(`tmp ${TEST_LIMITS.tmpBytes}`);
      // gVisor shows the program no cgroup files: its limits are on the sandbox, from outside.
      if (runtime === "runsc") return;
      expect(out).toContain(`memory ${200 * 1024 ** 2}`);
      expect(out).toMatch(/quota (50000|50000 100000)\n/);
      expect(out).toContain("pids 40");
    });
  });

  describe("isolation", () => {
    let tcp: Server;
    let tcpPort = 0;
    let bridge = "";
    let connections = 0;
    const udp = createSocket("udp4");
    let udpPackets = 0;
    let udpPort = 0;

    beforeAll(async () => {
      const network = await engine().getNetwork("bridge").inspect();
      bridge = network.IPAM?.Config?.[0]?.Gateway ?? "172.17.0.1";
      tcp = createTcpServer((socket) => {
        connections++;
        socket.destroy();
      });
      await new Promise<void>((resolve) => tcp.listen(0, "0.0.0.0", resolve));
      tcpPort = (tcp.address() as { port: number }).port;
      udp.on("message", () => udpPackets++);
      await new Promise<void>((resolve) => udp.bind(0, "0.0.0.0", resolve));
      udpPort = udp.address().port;
    });
    afterAll(() => {
      tcp.close();
      udp.close();
    });

    it("has no network: TCP and UDP to the engine's bridge address, DNS and raw sockets all fail", async () => {
      const result = await run(`
import socket
def attempt(name, fn):
    try:
        fn(); print(name, "OPEN")
    except OSError as e:
        print(name, "blocked", type(e).__name__)
def tcp():
    socket.create_connection(("${bridge}", ${tcpPort}), timeout=3)
def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b"x" * 10, ("${bridge}", ${udpPort}))
def dns():
    socket.getaddrinfo("deb.debian.org", 80)
def raw():
    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
for name, fn in (("tcp", tcp), ("udp", udp), ("dns", dns), ("raw", raw)):
    attempt(name, fn)
print("interfaces", sorted(i[1] for i in socket.if_nameindex()))
${WRITE_OUTPUT}`);
      expect(result.status).toBe("succeeded");
      const out = result.stdout.text;
      expect(out).not.toContain("OPEN");
      expect(out.match(/blocked/g)).toHaveLength(4);
      expect(out).toContain("interfaces ['lo']");
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(connections).toBe(0);
      expect(udpPackets).toBe(0);
    });

    it("can't write to the data, the code or the image's filesystem, and the host's files are untouched", async () => {
      const before = await readFile(path.join(ws.data, "features.csv"), "utf8");
      const result = await run(`
import os
for target in ("/code_execution/data/features.csv", "/code_execution/data/new.txt",
               "/code_execution/src/main.py", "/code_execution/src/new.py",
               "/etc/passwd", "/usr/bin/evil", "/root/x", "/code_execution/x"):
    try:
        open(target, "a").write("tampered")
        print("WROTE", target)
    except OSError as e:
        print("refused", target, e.errno)
${WRITE_OUTPUT}`);
      expect(result.status).toBe("succeeded");
      expect(result.stdout.text).not.toContain("WROTE");
      expect(result.stdout.text.match(/refused/g)).toHaveLength(8);
      expect(await readFile(path.join(ws.data, "features.csv"), "utf8")).toBe(before);
      expect(await filesIn(ws.data)).toEqual(["features.csv"]);
    });
  });

  describe("limits end the run with the right status", () => {
    it("a memory bomb is oom_killed, by the engine's account (its OOM flag or its oom event)", async () => {
      const result = await run(`chunks = []\nwhile True:\n    chunks.append(bytearray(16 * 1024 * 1024))\n`, {
        memoryBytes: 128 * 1024 ** 2,
      });
      expect(result.status).toBe("oom_killed");
      expect(result.reason).toMatch(/memory limit of 128 MiB/);
    });

    it("a program killed with SIGKILL by itself is failed (137 is not guessed to be an OOM)", async () => {
      const result = await run(`import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n`);
      expect(result.status).toBe("failed");
      expect(result.exitCode).toBe(137);
    });

    it("a CPU spin past the time limit is timed_out", async () => {
      const result = await run(`while True:\n    pass\n`, { timeLimitMs: 2000, graceMs: 1000 });
      expect(result.status, result.reason).toBe("timed_out");
      expect(result.reason).toMatch(/time limit of 2s; stopped with SIGTERM.*no SIGKILL needed/);
    });

    it("a program that ignores SIGTERM is killed after the grace period", async () => {
      const result = await run(
        `import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint("ignoring", flush=True)\nwhile True:\n    time.sleep(1)\n`,
        { timeLimitMs: 1500, graceMs: 1000 },
      );
      expect(result.status).toBe("timed_out");
      expect(result.exitCode).toBe(137);
      expect(result.reason).toMatch(/still running 1s after SIGTERM, so it was killed with SIGKILL/);
      expect(result.stdout.text).toContain("ignoring");
    });

    it("a fork bomb hits the pids limit and the run still ends", async () => {
      const result = await run(
        `import os, time\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        time.sleep(0.01)\n`,
        { timeLimitMs: 3000, graceMs: 500, pids: 32 },
      );
      expect(["timed_out", "failed"]).toContain(result.status);
    });

    it("a detached child that outlives main is ended with the run", async () => {
      const result = await run(`
import subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True,
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
${WRITE_OUTPUT}`);
      expect(result.status).toBe("succeeded");
      expect(result.durationMs).toBeLessThan(TEST_LIMITS.timeLimitMs);
    });

    it("filling /tmp stops at its size cap", async () => {
      const result = await run(`
written = 0
try:
    with open("/tmp/fill", "wb") as f:
        while True:
            f.write(b"\\0" * 1024 * 1024); f.flush(); written += 1
except OSError as e:
    print("stopped", e.errno, "after", written, "MiB")
${WRITE_OUTPUT}`);
      expect(result.status).toBe("succeeded");
      const mib = Number(/after (\d+) MiB/.exec(result.stdout.text)?.[1]);
      expect(mib).toBeLessThanOrEqual(TEST_LIMITS.tmpBytes / 1024 ** 2);
      expect(result.stdout.text).toContain("stopped 28");
    });
  });

  describe.each(["auto", "archive"] as const)("the output folder (copied via %s)", (outputCopy) => {
    it("is bounded while the program runs: a flood is output_too_large and the host gets at most the cap", async () => {
      const result = await run(
        `
try:
    with open("/code_execution/submission/flood.bin", "wb") as f:
        for _ in range(100):
            f.write(b"\\1" * 1024 * 1024)
except OSError as e:
    print("stopped", e.errno)
${WRITE_OUTPUT}`,
        {},
        { outputCopy },
      );
      expect(result.status).toBe("output_too_large");
      expect(result.stdout.text).toContain("stopped 28");
      const copied = await readdir(ws.out);
      let total = 0;
      for (const name of copied) total += (await lstat(path.join(ws.out, name))).size;
      expect(total).toBeLessThanOrEqual(TEST_LIMITS.outputBytes);
    });

    it("caps the number of files: a file flood is output_too_large", async () => {
      const result = await run(
        `
made = 0
try:
    for i in range(10_000):
        open(f"/code_execution/submission/f{i}", "w").close(); made += 1
except OSError as e:
    print("stopped", e.errno, made)
${WRITE_OUTPUT}`,
        {},
        { outputCopy },
      );
      expect(result.status).toBe("output_too_large");
      expect(result.stdout.text).toMatch(/stopped 28 \d+/);
      expect((await readdir(ws.out)).length).toBeLessThanOrEqual(TEST_LIMITS.outputFiles);
    });

    it("never follows or copies links and special files", async () => {
      const result = await run(
        `
import os
os.symlink("/etc/passwd", "/code_execution/submission/link")
os.symlink("/code_execution/submission/submission.csv", "/code_execution/submission/inner")
os.mkfifo("/code_execution/submission/fifo")
os.mkdir("/code_execution/submission/sub"); open("/code_execution/submission/sub/ok.txt", "w").write("ok")
${WRITE_OUTPUT}`,
        {},
        { outputCopy },
      );
      expect(result.status).toBe("succeeded");
      // Under gVisor a fifo lives in its own kernel and never reaches the host's folder.
      const skipped = result.output?.skipped.map((s) => s.path).sort();
      expect(skipped).toEqual(runtime === "runsc" ? ["inner", "link"] : ["fifo", "inner", "link"]);
      expect(await filesIn(ws.out)).toEqual(["sub", "sub/ok.txt", "submission.csv"]);
      for (const name of await filesIn(ws.out)) {
        const stat = await lstat(path.join(ws.out, name));
        expect(stat.isFile() || stat.isDirectory()).toBe(true);
      }
    });

    it("missing expected output is output_missing; a non-zero exit is failed", async () => {
      expect((await run(`print("forgot to write")\n`, {}, { outputCopy })).status).toBe("output_missing");
      const failed = await run(`raise SystemExit(3)\n`, {}, { outputCopy });
      expect(failed.status).toBe("failed");
      expect(failed.exitCode).toBe(3);
    });
  });

  describe("memory-backed folders and what the run used", () => {
    it("an output flood past the memory limit is output_too_large, not oom_killed", async () => {
      // Caps set by hand above the memory limit (the CLI and competition.yml refuse this; the sandbox copes).
      const result = await run(
        `
with open("/code_execution/submission/flood.bin", "wb") as f:
    while True:
        f.write(b"\\1" * 1024 * 1024); f.flush()
`,
        { memoryBytes: 96 * 1024 ** 2, outputBytes: 256 * 1024 ** 2, outputFiles: 50 },
      );
      expect(result.status).toBe("output_too_large");
      expect(result.reason).toMatch(/output folder held \d+ MiB/);
      expect(result.reason).toMatch(/memory limit of 96 MiB/);
    });

    it("a program that fails with its output folder holding half the memory limit is output_too_large", async () => {
      // What gVisor does when the memory runs out under a write: the write fails, no OOM flag.
      const result = await run(
        `
with open("/code_execution/submission/big.bin", "wb") as f:
    for _ in range(56):
        f.write(b"\\1" * 1024 * 1024)
raise SystemExit(1)
`,
        { memoryBytes: 96 * 1024 ** 2, outputBytes: 256 * 1024 ** 2, outputFiles: 50 },
      );
      expect(result.status).toBe("output_too_large");
      expect(result.reason).toMatch(
        /ended with code 1 while the output folder held 56 MiB, at least half the memory limit of 96 MiB/,
      );
    });

    it("a /tmp flood past the memory limit is oom_killed with /tmp named in the reason", async () => {
      const result = await run(
        `
import time
with open("/tmp/flood.bin", "wb") as f:
    for i in range(256):
        f.write(b"\\1" * 1024 * 1024); f.flush()
        if i % 16 == 0: time.sleep(0.3)
`,
        { memoryBytes: 96 * 1024 ** 2, tmpBytes: 256 * 1024 ** 2, timeLimitMs: 60_000 },
      );
      expect(result.status).toBe("oom_killed");
      // gVisor keeps the program's own memory in files too: there the reason cannot single /tmp out.
      if (runtime === "runc")
        expect(result.reason).toMatch(/most of it was files in \/tmp \(or \/dev\/shm\), about \d+ MiB/);
    });

    it("reports peak memory and CPU seconds within 20% of what the program used", async () => {
      const result = await run(
        `
import time
block = bytearray(160 * 1024 * 1024)
for i in range(0, len(block), 4096): block[i] = 1
start = time.process_time()
while time.process_time() - start < 2.5: pass
print("cpu", time.process_time())
# Idle a while before exiting, so the engine's samples (about one a second, later on a loaded host) see
# the whole CPU total rather than an extrapolated last interval.
time.sleep(3)
${WRITE_OUTPUT}`,
        { memoryBytes: 400 * 1024 ** 2, timeLimitMs: 60_000 },
      );
      expect(result.status).toBe("succeeded");
      const m = result.metrics!;
      const cpu = Number(/cpu ([\d.]+)/.exec(result.stdout.text)?.[1]);
      expect(m.cpuSeconds! / cpu).toBeGreaterThan(0.8);
      expect(m.cpuSeconds! / cpu).toBeLessThan(1.2);
      expect(m.peakMemoryBytes! / (160 * 1024 ** 2)).toBeGreaterThan(0.8);
      expect(m.peakMemoryBytes! / (160 * 1024 ** 2)).toBeLessThan(1.2);
      expect(m.cpuPeak).toBeGreaterThan(0);
      expect(m.pidsPeak).toBeGreaterThan(0);
      expect(m.outputBytes).toBe(9);
      expect(m.samples.length).toBeGreaterThanOrEqual(2);
      // The series shows the allocation (its last point may come as the program exits).
      expect(Math.max(...m.samples.map((p) => p.memoryBytes))).toBeGreaterThan(100 * 1024 ** 2);
    });
  });

  describe("what the program leaves in the output folder is its own doing", () => {
    it("a name that is not UTF-8, an unreadable file and odd names are reported, never an infrastructure_error", async () => {
      const result = await run(`
import os
out = b"/code_execution/submission/"
open(out + b"bad-\\xff\\xfe.csv", "w").write("x")
open(out + b"locked.csv", "w").write("x"); os.chmod(out + b"locked.csv", 0)
os.mkdir(out + b"closed"); open(out + b"closed/in.txt", "w").write("x"); os.chmod(out + b"closed", 0)
for name in ("new\\nline.txt", "-dash", " space ", "caf\u00e9.txt", "x" * 255):
    open(out.decode() + name, "w").write("ok")
${WRITE_OUTPUT}`);
      expect(result.status).toBe("succeeded");
      const skipped = Object.fromEntries(result.output!.skipped.map((s) => [s.path, s.type]));
      expect(Object.values(skipped)).toContain("a name that is not valid UTF-8");
      const copied = result.output!.files.map((f) => f.path);
      for (const name of [
        "new\nline.txt",
        "-dash",
        " space ",
        "caf\u00e9.txt",
        "x".repeat(255),
        "submission.csv",
      ])
        expect(copied).toContain(name);
      expect(copied.some((p) => p.includes("\uFFFD"))).toBe(false);
    });

    it("the expected file as a symlink or a fifo is output_invalid, naming what it is", async () => {
      const link = await run(
        `import os\nos.symlink("/etc/passwd", "/code_execution/submission/submission.csv")\n`,
      );
      expect(link.status).toBe("output_invalid");
      expect(link.reason).toMatch(/submission\.csv .* is a symlink, not a regular file/);
      const folder = await run(`import os\nos.mkdir("/code_execution/submission/submission.csv")\n`);
      expect(folder.status).toBe("output_missing");
    });

    it("a file name nested past the host's path length is skipped, not an infrastructure_error", async () => {
      const result = await run(
        `
import os
os.chdir("/code_execution/submission")
for _ in range(20):
    os.mkdir("d" * 250); os.chdir("d" * 250)
open("deep.txt", "w").write("x")
${WRITE_OUTPUT}`,
        { outputFiles: 50 },
      );
      expect(["succeeded", "output_too_large"]).toContain(result.status);
      expect(result.output!.files.map((f) => f.path)).toContain("submission.csv");
    });
  });

  describe("logs", () => {
    it("a stdout and stderr flood is captured head and tail, memory bounded, every line counted", async () => {
      // 300 000 writes take gVisor's ptrace platform tens of seconds on a loaded host: a limit that is no
      // part of what is tested.
      const result = await run(
        `
import sys
for i in range(200_000):
    sys.stdout.write(f"out line {i}\\n")
    if i % 2 == 0: sys.stderr.write(f"err line {i}\\n")
${WRITE_OUTPUT}`,
        { timeLimitMs: 100_000 },
      );
      expect(result.status, result.reason).toBe("succeeded");
      expect(result.stdout.lines).toBe(200_000);
      expect(result.stderr.lines).toBe(100_000);
      expect(result.stdout.truncated).toBe(true);
      expect(result.stdout.text.startsWith("out line 0\n")).toBe(true);
      expect(result.stdout.text.endsWith("out line 199999\n")).toBe(true);
      expect(result.stdout.text).toMatch(/\[\.\.\. \d+ bytes cut by proctor \.\.\.\]/);
      expect(result.stdout.text.length).toBeLessThan(
        TEST_LIMITS.logHeadBytes + TEST_LIMITS.logTailBytes + 100,
      );
      expect(result.stderr.text.endsWith("err line 199998\n")).toBe(true);
    }, 180_000);
  });
});

describe("infrastructure", () => {
  const run = (program: string, limits: Partial<typeof TEST_LIMITS> = {}, extra = {}) =>
    runUnder("runc", program, limits, extra);

  it("a missing image is infrastructure_error naming the image and the fix", async () => {
    const result = await run(WRITE_OUTPUT, {}, { image: "proctor/does-not-exist:nope" });
    expect(result.status).toBe("infrastructure_error");
    expect(result.reason).toMatch(/proctor\/does-not-exist:nope.*(pull|build)/);
  });

  it("asking for a GPU where the engine has no NVIDIA runtime is infrastructure_error with a clear message", async () => {
    const info = await engine().info();
    if (info.Runtimes?.nvidia) return; // a GPU runner: the request is honoured instead
    const result = await run(WRITE_OUTPUT, {}, { gpu: true });
    expect(result.status).toBe("infrastructure_error");
    expect(result.reason).toMatch(/GPU was asked for.*NVIDIA Container Toolkit/);
  });

  it("requests a GPU only when asked", () => {
    const image = {
      ref: "x",
      id: "sha256:1",
      digest: null,
      user: null,
      hasEntrypoint: false,
      sizeBytes: 1,
      layers: [],
      volumes: [],
    };
    const base = { runId: "r", image: "x", command: [], workingDir: "/", mounts: [], limits: TEST_LIMITS };
    expect(untrustedContainerSpec(base, image, null).HostConfig?.DeviceRequests).toBeUndefined();
    expect(untrustedContainerSpec({ ...base, gpu: true }, image, null).HostConfig?.DeviceRequests).toEqual([
      { Driver: "", Count: -1, DeviceIDs: [], Capabilities: [["gpu"]], Options: {} },
    ]);
  });

  it("runs as the image's non-root USER when it has one", () => {
    const image = {
      ref: "x",
      id: "sha256:1",
      digest: null,
      user: "appuser",
      hasEntrypoint: true,
      sizeBytes: 1,
      layers: [],
      volumes: [],
    };
    const spec = untrustedContainerSpec(
      {
        runId: "r",
        image: "x",
        command: (i) => (i.hasEntrypoint ? [] : ["python3"]),
        workingDir: "/",
        mounts: [],
        limits: TEST_LIMITS,
      },
      image,
      null,
    );
    expect(spec.User).toBe("appuser");
    expect(spec.Cmd).toBeUndefined();
  });
});

describe("the output holder", () => {
  it("runs that write their output and exit at once never lose it, however many start together", async () => {
    const runs = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const own = await workspace(image);
        try {
          const request = await own.request(WRITE_OUTPUT.replace("1,0", `1,${i}`));
          const result = await runSandboxed(request);
          return {
            status: result.status,
            copied: await readFile(path.join(own.out, "submission.csv"), "utf8").catch(() => null),
            leftovers: await leftoversOf(request.runId),
          };
        } finally {
          await own.cleanup();
        }
      }),
    );
    runs.forEach((run, i) =>
      expect(run).toEqual({ status: "succeeded", copied: `id,y\n1,${i}\n`, leftovers: [] }),
    );
  });

  it("a holder removed mid-run is infrastructure_error, never output_missing, and nothing is left", async () => {
    const request = await ws.request(`import time\ntime.sleep(3)\n${WRITE_OUTPUT}`);
    await rm(ws.out, { recursive: true, force: true });
    const running = runSandboxed(request);
    const holder = `proctor-${request.runId}-holder`;
    for (let i = 0; i < 100; i++) {
      const state = await engine()
        .getContainer(holder)
        .inspect()
        .then((c) => c.State.Running)
        .catch(() => false);
      if (state) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await engine().getContainer(holder).remove({ force: true });
    const result = await running;
    expect(result.status).toBe("infrastructure_error");
    expect(result.reason).toMatch(/reading the output/);
    expect(await leftoversOf(request.runId)).toEqual([]);
  });
});
