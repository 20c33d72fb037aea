import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newRunId, runSandboxed, type SandboxRequest, type SandboxResult } from "../sandbox/index.js";
import { TEST_LIMITS } from "../sandbox/test-support/fixtures.js";
import { ENTRYPOINT_EXIT } from "../contract/index.js";
import { offlineImage } from "./test-support/offline-image.js";

// runtime/entrypoint.sh in the offline image, run the way the pipeline runs a submission: the image's own
// entrypoint (command []), the code mounted read-only, a bounded output volume, /tmp a tmpfs.
let image: string;
let root: string;
let n = 0;

beforeAll(async () => {
  image = await offlineImage();
  root = await mkdtemp(path.join(os.tmpdir(), "proctor-entrypoint-"));
  await chmod(root, 0o755);
});
afterAll(() => rm(root, { recursive: true, force: true }));

const STAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z /;
const WRITE_CSV = `open("/code_execution/submission/submission.csv", "w").write("id,y\\n1,0\\n")\n`;

interface Ran {
  result: SandboxResult;
  out: string;
  stdout: string[];
  stderr: string[];
}

async function run(
  files: Record<string, string>,
  overrides: Partial<SandboxRequest> = {},
  expectedFile = "submission.csv",
): Promise<Ran> {
  const dir = path.join(root, `run${++n}`);
  const code = path.join(dir, "code");
  const data = path.join(dir, "data");
  const out = path.join(dir, "out");
  for (const d of [dir, code, data]) {
    await mkdir(d, { recursive: true });
    await chmod(d, 0o755);
  }
  await writeFile(path.join(data, "features.csv"), "id,x\n1,0.5\n", { mode: 0o644 });
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(code, name)), { recursive: true, mode: 0o755 });
    await writeFile(path.join(code, name), content, { mode: 0o644 });
  }
  const result = await runSandboxed({
    runId: newRunId(),
    image,
    command: [],
    workingDir: "/code_execution",
    mounts: [
      { source: code, target: "/code_execution/src" },
      { source: data, target: "/code_execution/data" },
    ],
    output: { target: "/code_execution/submission", hostDir: out, expectedFile },
    limits: TEST_LIMITS,
    ...overrides,
  });
  const lines = (text: string) => text.split("\n").filter((l) => l !== "");
  return { result, out, stdout: lines(result.stdout.text), stderr: lines(result.stderr.text) };
}

/** The lines without their timestamps, checking that every line has one. */
function unstamped(lines: string[]): string[] {
  for (const line of lines) expect(line).toMatch(STAMP);
  return lines.map((l) => l.replace(STAMP, ""));
}

describe("runtime/entrypoint.sh", () => {
  it("runs main.py in a writable working folder where the submission's files are, as appuser", async () => {
    const { result, out, stdout, stderr } = await run({
      "main.py": `
import os, pathlib, sys
print("cwd writable:", os.access(".", os.W_OK), "home:", os.environ["HOME"], "uid:", os.getuid())
print("model:", open("model/weights.txt").read().strip())
print("beside __file__:", (pathlib.Path(__file__).parent / "model" / "weights.txt").exists())
open("cache.bin", "w").write("scratch")
print("wrote relatively:", open("cache.bin").read())
import helper
print("imported:", helper.VALUE)
print("to stderr", file=sys.stderr)
print("data:", open("/code_execution/data/features.csv").read().splitlines()[0])
${WRITE_CSV}`,
      "model/weights.txt": "w=42\n",
      "helper.py": "VALUE = 7\n",
    });
    expect(result.status).toBe("succeeded");
    expect(result.exitCode).toBe(0);
    expect(unstamped(stdout)).toEqual([
      "cwd writable: True home: /tmp uid: 1000",
      "model: w=42",
      "beside __file__: True",
      "wrote relatively: scratch",
      "imported: 7",
      "data: id,x",
    ]);
    const err = unstamped(stderr);
    expect(err).toContain("to stderr");
    expect(err[0]).toMatch(/^\[proctor\] running main\.py from \/code_execution\/src in \/tmp\/work /);
    expect(err.at(-1)).toMatch(
      /^\[proctor\] main\.py finished after \d+s and wrote \/code_execution\/submission\/submission\.csv$/,
    );
    expect(await readFile(path.join(out, "submission.csv"), "utf8")).toBe("id,y\n1,0\n");
  });

  it("runs DrivenData-style code unchanged: relative data/ and submission/ from the working folder", async () => {
    const { result, out, stderr } = await run({
      "main.py": `
import os
from pathlib import Path
rows = Path("data/features.csv").read_text().splitlines()
Path("submission").mkdir(exist_ok=True)
Path("submission/submission.csv").write_text("id,y\\n" + rows[1].split(",")[0] + ",1\\n")
print(os.getcwd(), os.path.realpath("data"), os.path.realpath("submission"))
`,
    });
    expect(result.status, `${result.reason}\n${stderr.join("\n")}`).toBe("succeeded");
    expect(unstamped(result.stdout.text.trim().split("\n"))).toEqual([
      "/tmp/work /code_execution/data /code_execution/submission",
    ]);
    expect(await readFile(path.join(out, "submission.csv"), "utf8")).toBe("id,y\n1,1\n");
  });

  it("keeps data/ and submission/ the contract's when the zip has its own, and says so", async () => {
    const { result, stderr } = await run({
      "main.py": `print(open("data/features.csv").read().splitlines()[0])\n${WRITE_CSV}`,
      "data/features.csv": "not,the,test,data\n",
    });
    expect(result.status).toBe("succeeded");
    expect(unstamped(result.stdout.text.trim().split("\n"))).toEqual(["id,x"]);
    expect(unstamped(stderr).join("\n")).toMatch(/your zip's data is hidden in the working folder/);
  });

  it("lets a program run what it builds in /tmp (JIT caches); /tmp stays nosuid and nodev", async () => {
    const { result, stdout } = await run({
      "main.py": `
import os, subprocess
path = os.path.join(os.environ["HOME"], "cache", "kernel.sh")
os.makedirs(os.path.dirname(path))
open(path, "w").write("#!/bin/sh\\necho built and ran\\n")
os.chmod(path, 0o755)
print(subprocess.run([path], capture_output=True, text=True).stdout.strip())
print([line.split()[3] for line in open("/proc/mounts") if line.split()[1] == "/tmp"][0])
${WRITE_CSV}`,
    });
    expect(result.status, result.stderr.text).toBe("succeeded");
    const [ran, options] = unstamped(stdout);
    expect(ran).toBe("built and ran");
    expect(options!.split(",")).toEqual(expect.arrayContaining(["nosuid", "nodev"]));
    expect(options!.split(",")).not.toContain("noexec");
  });

  it("keeps stdout and stderr apart, each line stamped when it is printed", async () => {
    const { result, stdout, stderr } = await run({
      "main.py": `
import sys, time
print("out 1"); print("err 1", file=sys.stderr)
time.sleep(1.2)
print("out 2"); print("err 2", file=sys.stderr)
sys.stdout.write("no newline at the end")
${WRITE_CSV}`,
    });
    expect(result.status).toBe("succeeded");
    expect(unstamped(stdout)).toEqual(["out 1", "out 2", "no newline at the end"]);
    expect(unstamped(stderr).filter((l) => !l.startsWith("[proctor]"))).toEqual(["err 1", "err 2"]);
    // Stamped on arrival, not at exit: the sleep shows between the two lines.
    const seconds = (line: string) => Date.parse(line.slice(0, 20));
    expect(seconds(stdout[1]!) - seconds(stdout[0]!)).toBeGreaterThanOrEqual(1000);
  });

  it("passes a 50 MB line without a newline in 64 KiB pieces and keeps the lines after it, on time", async () => {
    const { result, stdout } = await run(
      {
        "main.py": `
import sys
chunk = "x" * 65536
for _ in range(800):
    sys.stdout.write(chunk)
print()
print("after")
${WRITE_CSV}`,
      },
      // A tail that holds the last piece whole. (The stamper this replaced took about 15 minutes here.)
      { limits: { ...TEST_LIMITS, timeLimitMs: 60_000, logTailBytes: 2 * 65536 } },
    );
    expect(result.status, result.stderr.text).toBe("succeeded");
    // Every piece came through (the first, then 799 marked "<stamp>+ " as continued), then "after".
    expect(result.stdout.lines).toBe(801);
    const [lastPiece, after] = stdout.slice(-2);
    expect(lastPiece).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\+ x+$/);
    expect(unstamped([after!])).toEqual(["after"]);
  });

  it("runs main.sh with bash, from the working folder", async () => {
    const { result, stdout } = await run({
      "main.sh": `set -euo pipefail\n[[ -n "$BASH_VERSION" ]] && echo "bash"\ncat notes.txt\necho made > local.txt && cat local.txt\necho "id,y" > /code_execution/submission/submission.csv\n`,
      "notes.txt": "a note\n",
    });
    expect(result.status).toBe("succeeded");
    expect(unstamped(stdout)).toEqual(["bash", "a note", "made"]);
  });

  it("runs main.sh when both are there (it is the wrapper that starts main.py)", async () => {
    const { result, stdout } = await run({
      "main.sh": `echo from-sh\npython3 main.py\n`,
      "main.py": `print("from-py")\n${WRITE_CSV}`,
    });
    expect(result.status).toBe("succeeded");
    expect(unstamped(stdout)).toEqual(["from-sh", "from-py"]);
  });

  it("exits with the program's code when it fails, and says so", async () => {
    const { result, stderr } = await run({
      "main.py": `import sys\n${WRITE_CSV}raise SystemExit(3)\n`,
    });
    expect(result.status).toBe("failed");
    expect(result.exitCode).toBe(3);
    expect(unstamped(stderr).at(-1)).toMatch(
      /^\[proctor\] error: main\.py failed with exit code 3 after \d+s$/,
    );
  });

  it("a Python exception: the traceback is on stderr, stamped, and the run fails", async () => {
    const { result, stderr } = await run({ "main.py": `raise ValueError("bad model")\n` });
    expect(result.status).toBe("failed");
    expect(result.exitCode).toBe(1);
    expect(unstamped(stderr)).toContain("ValueError: bad model");
  });

  it("exits non-zero when main exits 0 without writing the expected output", async () => {
    const { result, stderr } = await run({ "main.py": `print("forgot to write")\n` });
    expect(result.exitCode).toBe(ENTRYPOINT_EXIT.outputMissing);
    expect(result.status).toBe("failed");
    expect(unstamped(stderr).at(-1)).toMatch(
      /^\[proctor\] error: main\.py exited 0 after \d+s but wrote no \/code_execution\/submission\/submission\.csv/,
    );
  });

  // As youth-mental-health's, visiomel's and tutoring-outcomes' example submissions do: submission.csv
  // written beside main.py, which their entrypoints copy into submission/.
  it("copies ./submission.csv from the working folder into the output folder, and says so", async () => {
    const { result, out, stderr } = await run({
      "main.py": `
from pathlib import Path
ids = [line.split(",")[0] for line in Path("data/features.csv").read_text().splitlines()[1:]]
Path("submission.csv").write_text("id,y\\n" + "".join(f"{i},1\\n" for i in ids))
`,
    });
    expect(result.status, `${result.reason}\n${stderr.join("\n")}`).toBe("succeeded");
    expect(await readFile(path.join(out, "submission.csv"), "utf8")).toBe("id,y\n1,1\n");
    expect(unstamped(stderr)).toContain(
      "[proctor] copied ./submission.csv from the working folder to /code_execution/submission/submission.csv (as DrivenData's runtimes do)",
    );
  });

  it("keeps the program's own submission/submission.csv over a ./submission.csv beside it", async () => {
    const { result, out, stderr } = await run({
      "main.py": `open("submission.csv", "w").write("id,y\\nscratch\\n")\n${WRITE_CSV}`,
    });
    expect(result.status).toBe("succeeded");
    expect(await readFile(path.join(out, "submission.csv"), "utf8")).toBe("id,y\n1,0\n");
    expect(unstamped(stderr).join("\n")).not.toMatch(/copied/);
  });

  it("does not copy ./submission.csv past the output folder's cap: no partial file, and a message", async () => {
    const dir = path.join(root, "capped-out");
    const { result, stderr } = await run(
      { "main.py": `open("submission.csv", "w").write("id,y\\n" + "1,0\\n" * (3 * 1024 * 1024))\n` },
      {
        limits: { ...TEST_LIMITS, outputBytes: 1024 ** 2, tmpBytes: 16 * 1024 ** 2 },
        // As the pipeline asks: the entrypoint's "missing" exit code with the file missing is output_missing.
        output: {
          target: "/code_execution/submission",
          hostDir: dir,
          expectedFile: "submission.csv",
          missingExitCode: ENTRYPOINT_EXIT.outputMissing,
        },
      },
    );
    expect(result.exitCode).toBe(ENTRYPOINT_EXIT.outputMissing);
    expect(result.status).toBe("output_missing");
    await expect(readFile(path.join(dir, "submission.csv"))).rejects.toThrow();
    expect(unstamped(stderr).at(-1)).toMatch(
      /^\[proctor\] error: main\.py wrote \.\/submission\.csv \(12582917 bytes\) in the working folder, and copying it to \/code_execution\/submission\/submission\.csv failed: .*No space left on device.*: write less$/,
    );
  });

  it("when the expected file is missing, says where files of its name or extension were written", async () => {
    const { result, stderr } = await run({
      "main.py": `
import os
os.makedirs("output")
open("output/submission.csv", "w").write("id,y\\n")
open("/tmp/preds.csv", "w").write("id,y\\n")
open("notes.txt", "w").write("not a candidate")
`,
      "old.csv": "the zip's own file: not written by the program\n",
    });
    expect(result.exitCode).toBe(ENTRYPOINT_EXIT.outputMissing);
    expect(unstamped(stderr).slice(-2)).toEqual([
      expect.stringMatching(/^\[proctor\] error: main\.py exited 0 after \d+s but wrote no /),
      "[proctor] found instead: /tmp/preds.csv /tmp/work/output/submission.csv",
    ]);
  });

  // As spacecraft-pose's benchmark does: main.sh calls `python`, with DATA_DIR=../data and an absolute
  // submission path; and as floodwater's (2021) code does, reading /codeexecution/data/....
  it("runs a main.sh that calls python with ../data, and /codeexecution/data is the data", async () => {
    const { result, out, stdout, stderr } = await run({
      "main.sh": `#!/usr/bin/env bash
DATA_DIR=../data
SUBMISSION_PATH=/code_execution/submission/submission.csv
python main.py $DATA_DIR $SUBMISSION_PATH
`,
      "main.py": `
import sys
from pathlib import Path
data_dir, output_path = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
rows = (data_dir / "features.csv").read_text().splitlines()
print(data_dir, Path("/codeexecution/data/features.csv").read_text() == "\\n".join(rows) + "\\n")
output_path.write_text("id,y\\n" + rows[1].split(",")[0] + ",0\\n")
`,
    });
    expect(result.status, `${result.reason}\n${stderr.join("\n")}`).toBe("succeeded");
    expect(unstamped(stdout)).toEqual(["/code_execution/data True"]);
    expect(await readFile(path.join(out, "submission.csv"), "utf8")).toBe("id,y\n1,0\n");
  });

  // As floodwater's (2021) benchmarks do, where the runtime unzipped the submission into /codeexecution:
  // their own files, the data and the output folder all under it.
  it("/codeexecution is the working folder: the zip's own files, data/ and submission/", async () => {
    const { result, out, stdout, stderr } = await run({
      "assets/model.txt": "weights\n",
      "main.py": `
from pathlib import Path
root = Path("/codeexecution")
print(root.resolve(), (root / "assets" / "model.txt").read_text().strip())
rows = (root / "data" / "features.csv").read_text().splitlines()
(root / "submission" / "submission.csv").write_text("id,y\\n" + rows[1].split(",")[0] + ",0\\n")
`,
    });
    expect(result.status, `${result.reason}\n${stderr.join("\n")}`).toBe("succeeded");
    expect(unstamped(stdout)).toEqual(["/tmp/work weights"]);
    expect(await readFile(path.join(out, "submission.csv"), "utf8")).toBe("id,y\n1,0\n");
  });

  // As youth-mental-health's and childrens-speech's entrypoints run python through pixi or uv.
  it("a command the runtime lacks: exit code 127, with the shell's line naming it", async () => {
    const { result, stderr } = await run({ "main.sh": `pixi run python main.py\n`, "main.py": WRITE_CSV });
    expect(result.exitCode).toBe(127);
    expect(unstamped(stderr)).toContain("main.sh: line 1: pixi: command not found");
  });

  it("checks the output named by PROCTOR_EXPECTED_OUTPUT", async () => {
    const program = { "main.py": `open("/code_execution/submission/predictions.parquet", "w").write("x")\n` };
    const env = { PROCTOR_EXPECTED_OUTPUT: "predictions.parquet" };
    const ok = await run(program, { env }, "predictions.parquet");
    expect(ok.result.status).toBe("succeeded");
    const missing = await run(program, {}, "predictions.parquet");
    expect(missing.result.exitCode).toBe(ENTRYPOINT_EXIT.outputMissing);
  });

  it("with no main.py or main.sh at the top: a clear message, what was found, and a non-zero exit", async () => {
    const { result, stderr } = await run({ "my-submission/main.py": `${WRITE_CSV}` });
    expect(result.exitCode).toBe(ENTRYPOINT_EXIT.noMain);
    expect(result.status).toBe("failed");
    expect(unstamped(stderr)).toEqual([
      "[proctor] error: no main.py or main.sh in /code_execution/src: zip your files so main.py (or main.sh) is at the root of the zip, not inside a folder",
      "[proctor] found instead: my-submission/main.py",
    ]);
  });

  it("does not hang on a background process the program left holding its output", async () => {
    const { result, stdout, stderr } = await run({
      "main.py": `import subprocess\nsubprocess.Popen(["sleep", "60"])\nprint("done")\n${WRITE_CSV}`,
    });
    expect(result.status).toBe("succeeded");
    expect(unstamped(stdout)).toEqual(["done"]);
    expect(unstamped(stderr)).toContain(
      "[proctor] warning: main.py left background processes that still hold its output open; their output is not shown",
    );
    expect(result.durationMs).toBeLessThan(15_000);
  });

  it("passes SIGTERM on to the program when the time limit ends the run", async () => {
    const { result, out, stdout } = await run(
      {
        "main.py": `
import signal, sys, time
def on_term(*_):
    print("got SIGTERM, saving", flush=True)
    ${WRITE_CSV.trim()}
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
print("working", flush=True)
time.sleep(60)
`,
      },
      { limits: { ...TEST_LIMITS, timeLimitMs: 3000, graceMs: 5000 } },
    );
    expect(result.status).toBe("timed_out");
    expect(unstamped(stdout)).toEqual(["working", "got SIGTERM, saving"]);
    expect(await readFile(path.join(out, "submission.csv"), "utf8")).toBe("id,y\n1,0\n");
    expect(result.durationMs).toBeLessThan(8000);
  });
});
