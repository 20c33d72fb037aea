import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  CONTAINER,
  DEFAULT_EXPECTED_OUTPUT,
  ENTRYPOINT_ENV,
  ENTRYPOINT_EXIT,
  ID_PLACEHOLDER,
  namesFilePerId,
  RUNTIME_TESTS_DIR,
  scorerPredictionsFile,
  submissionCommand,
} from "./index.js";

// runtime/entrypoint.sh cannot import the contract: it mirrors the values it needs, and this holds them equal.
const script = readFileSync(new URL("../../runtime/entrypoint.sh", import.meta.url), "utf8");

/** The value of `readonly NAME=value` in the script. */
function readonlyValue(name: string): string {
  const match = new RegExp(`^readonly ${name}=(.*)$`, "m").exec(script);
  if (!match) throw new Error(`runtime/entrypoint.sh has no readonly ${name}`);
  return match[1]!;
}

describe("runtime/entrypoint.sh agrees with the contract", () => {
  it("runs the code from CONTAINER.src and checks the output in CONTAINER.submission", () => {
    expect(readonlyValue("SRC_DIR")).toBe(CONTAINER.src);
    expect(readonlyValue("SUBMISSION_DIR")).toBe(CONTAINER.submission);
  });

  it("links data/ to CONTAINER.data and submission/ to CONTAINER.submission in the working folder", () => {
    expect(script).toContain(`declare -A contract=([data]=${CONTAINER.data} [submission]=$SUBMISSION_DIR)`);
  });

  it("makes its working folder CONTAINER.workDir (work in TMPDIR, /tmp by default)", () => {
    expect(script).toMatch(/^scratch_root=\$\{TMPDIR:-(\/[^}]*)\}$/m);
    const tmp = /^scratch_root=\$\{TMPDIR:-(\/[^}]*)\}$/m.exec(script)![1];
    expect(tmp).toBe(CONTAINER.tmp);
    expect(script).toMatch(/^workdir=\$scratch_root\/work$/m);
    expect(`${tmp}/work`).toBe(CONTAINER.workDir);
  });

  it("exits with ENTRYPOINT_EXIT's codes", () => {
    expect(Number(readonlyValue("EXIT_OUTPUT_MISSING"))).toBe(ENTRYPOINT_EXIT.outputMissing);
    expect(Number(readonlyValue("EXIT_NO_MAIN"))).toBe(ENTRYPOINT_EXIT.noMain);
    expect(Number(readonlyValue("EXIT_SETUP_FAILED"))).toBe(ENTRYPOINT_EXIT.setupFailed);
  });

  it("reads ENTRYPOINT_ENV's variables, with DEFAULT_EXPECTED_OUTPUT as the default", () => {
    expect(readonlyValue("EXPECTED_OUTPUT")).toBe(
      `\${${ENTRYPOINT_ENV.expectedOutput}:-${DEFAULT_EXPECTED_OUTPUT}}`,
    );
    expect(script).toContain(`"\${${ENTRYPOINT_ENV.interactive}:-}" = 1`);
  });

  it("takes an expected output named with ID_PLACEHOLDER for a folder of files, one per id", () => {
    expect(script).toContain(`if [[ $EXPECTED_OUTPUT == *"${ID_PLACEHOLDER}"* ]]; then`);
    expect(namesFilePerId(`${ID_PLACEHOLDER}.tif`)).toBe(true);
    expect(namesFilePerId("submission.csv")).toBe(false);
  });
});

describe.each(["Dockerfile", "Dockerfile.offline"])("runtime/%s agrees with the contract", (file) => {
  const dockerfile = readFileSync(new URL(`../../runtime/${file}`, import.meta.url), "utf8");

  it("makes the contract's folders and puts the image tests in RUNTIME_TESTS_DIR", () => {
    expect(dockerfile).toContain(
      `mkdir -p ${CONTAINER.src} ${CONTAINER.data} ${CONTAINER.submission} ${RUNTIME_TESTS_DIR}`,
    );
    expect(dockerfile).toContain(`COPY runtime/tests/ ${RUNTIME_TESTS_DIR}/`);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["\/entrypoint\.sh"\]$/m);
  });
});

describe("the contract module", () => {
  it("imports nothing: every room may import it", () => {
    const source = readFileSync(new URL("./index.ts", import.meta.url), "utf8");
    expect(source).not.toMatch(/^\s*(import|export)\b[^;]*\bfrom\s/m);
  });
});

describe("submissionCommand", () => {
  it.each([
    ["main.py", true, []],
    ["main.sh", true, []],
    ["main.py", false, ["python3", "/code_execution/src/main.py"]],
    ["main.sh", false, ["bash", "/code_execution/src/main.sh"]],
  ] as const)("%s, image entrypoint %s: %j", (entrypoint, hasEntrypoint, command) => {
    expect(submissionCommand(entrypoint, hasEntrypoint)).toEqual(command);
  });
});

describe("scorerPredictionsFile", () => {
  it.each([
    ["csv", "/scoring/predictions.csv"],
    ["json", "/scoring/predictions.json"],
    ["jsonl", "/scoring/predictions.jsonl"],
  ] as const)("%s: %s", (encoding, file) => {
    expect(scorerPredictionsFile(encoding)).toBe(file);
  });
});
