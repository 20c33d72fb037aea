import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { writeZip } from "../../test/support/zips.js";
import { zipBytes } from "../submission/test-support/zip-bytes.js";
import { leftoversOf, TEST_LIMITS } from "../sandbox/test-support/fixtures.js";
import { runSubmission } from "./run-submission.js";

const image = inject("baseImage");
let dir: string;
let data: string;
let n = 0;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-pipeline-"));
  data = path.join(dir, "data");
  await mkdir(data);
  await writeFile(path.join(data, "features.csv"), "id,x\na,1\nb,2\n");
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function run(files: Record<string, string>, expectedOutput = "submission.csv") {
  const zipPath = await writeZip(path.join(dir, `s${++n}.zip`), files);
  const outputDir = path.join(dir, `out${n}`);
  const result = await runSubmission({
    zipPath,
    image,
    dataDir: data,
    outputDir,
    limits: TEST_LIMITS,
    expectedOutput,
  });
  return { result, outputDir };
}

describe("runSubmission", () => {
  it("runs main.py from the zip on the read-only data and copies the predictions out", async () => {
    const { result, outputDir } = await run({
      "main.py": `import csv
rows = list(csv.DictReader(open("/code_execution/data/features.csv")))
with open("/code_execution/submission/submission.csv", "w") as f:
    f.write("id,y\\n" + "".join(f"{r['id']},{int(r['x']) * 2}\\n" for r in rows))
`,
    });
    expect(result.status).toBe("succeeded");
    expect(result.submissionSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await readFile(path.join(outputDir, "submission.csv"), "utf8")).toBe("id,y\na,2\nb,4\n");
  });

  it("runs main.sh, with helper files beside it, from a single top-level folder", async () => {
    const { result } = await run({
      "my-submission/main.sh": `set -e\ncd /code_execution/src\ncat helper.txt\necho "id,y" > /code_execution/submission/submission.csv\n`,
      "my-submission/helper.txt": "helper here\n",
    });
    expect(result.status).toBe("succeeded");
    expect(result.stdout.text).toBe("helper here\n");
  });

  it("refuses a zip-slip before the program's container is made, naming the entry, and leaves nothing", async () => {
    const zipPath = path.join(dir, "slip.zip");
    await writeFile(
      zipPath,
      zipBytes([
        { name: "main.py", data: Buffer.from("print(1)") },
        { name: "../escape.py", data: Buffer.from("x") },
      ]),
    );
    const result = await runSubmission({
      zipPath,
      image,
      dataDir: data,
      outputDir: path.join(dir, "slip"),
      limits: TEST_LIMITS,
    });
    expect(result.status).toBe("invalid_submission");
    expect(result.reason).toContain("../escape.py");
    expect(result.image).toBeNull();
    expect(await leftoversOf(result.runId, 0)).toEqual([]);
  });

  it("refuses a zip without main.py or main.sh", async () => {
    const { result } = await run({ "model.py": "print(1)" });
    expect(result.status).toBe("invalid_submission");
    expect(result.reason).toMatch(/main\.py|main\.sh/);
  });
});
