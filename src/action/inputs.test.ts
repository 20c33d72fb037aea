import { afterEach, describe, expect, it } from "vitest";
import { JOB_TOKEN, withDefaults } from "../../test/support/action-runner.js";
import {
  buildRuntimeInputs,
  commandInput,
  InputError,
  publishRuntimeInputs,
  runSubmissionInputs,
  testRuntimeInputs,
} from "./inputs.js";

/** Sets the INPUT_* variables as the runner does: the step's `with:` over action.yml's defaults. */
async function inputs(given: Record<string, string>): Promise<void> {
  clear();
  for (const [name, value] of Object.entries(await withDefaults(given)))
    process.env[`INPUT_${name.toUpperCase()}`] = value;
}
function clear(): void {
  for (const name of Object.keys(process.env)) if (name.startsWith("INPUT_")) delete process.env[name];
}
afterEach(clear);

const refused = (read: () => unknown): string => {
  try {
    read();
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return (error as Error).message;
  }
  throw new Error("expected an InputError");
};

describe("commandInput", () => {
  it("names the allowed commands", async () => {
    await inputs({ command: "run-submission" });
    expect(commandInput()).toBe("run-submission");
    await inputs({ command: "deploy" });
    expect(refused(commandInput)).toBe(
      'input "command" must be one of build-runtime, test-runtime, publish-runtime, run-submission, got "deploy"',
    );
  });
});

describe("buildRuntimeInputs", () => {
  it("reads action.yml's defaults and KEY=VALUE build arguments", async () => {
    await inputs({ command: "build-runtime" });
    expect(buildRuntimeInputs()).toEqual({
      config: "competition.yml",
      flavour: "cpu",
      dockerfile: "runtime/Dockerfile",
      buildArgs: {},
    });
    await inputs({ "cpu-or-gpu": "gpu", image: "org/rt", "build-args": "A=1\n B = x=y \n" });
    expect(buildRuntimeInputs()).toMatchObject({
      flavour: "gpu",
      image: "org/rt",
      buildArgs: { A: "1", B: "x=y" },
    });
  });

  it("refuses a bad flavour and a build argument without =", async () => {
    await inputs({ "cpu-or-gpu": "tpu" });
    expect(refused(buildRuntimeInputs)).toBe('input "cpu-or-gpu" must be one of cpu, gpu, got "tpu"');
    await inputs({ "build-args": "NOVALUE" });
    expect(refused(buildRuntimeInputs)).toBe('input "build-args": "NOVALUE" is not KEY=VALUE');
  });
});

describe("testRuntimeInputs", () => {
  it("reads the size budget and the optional environment file", async () => {
    await inputs({});
    expect(testRuntimeInputs()).toEqual({
      config: "competition.yml",
      flavour: "cpu",
      imageSizeBudget: 12 * 1024 ** 3,
    });
    await inputs({
      "image-size-budget": "100m",
      "environment-file": "runtime/environment-offline.yml",
    });
    expect(testRuntimeInputs()).toMatchObject({
      imageSizeBudget: 100 * 1024 ** 2,
      environmentFile: "runtime/environment-offline.yml",
    });
  });

  it("names a size it cannot read, and an emptied one", async () => {
    await inputs({ "image-size-budget": "huge" });
    expect(refused(testRuntimeInputs)).toMatch(/^input "image-size-budget"/);
    await inputs({ "image-size-budget": "" });
    expect(refused(testRuntimeInputs)).toMatch(
      /input "image-size-budget" is required for command test-runtime/,
    );
  });
});

describe("publishRuntimeInputs", () => {
  it("needs a username and password; the registry is optional", async () => {
    await inputs({ username: "u", password: "p", registry: "127.0.0.1:5000" });
    expect(publishRuntimeInputs()).toMatchObject({
      auth: { username: "u", password: "p", serveraddress: "127.0.0.1:5000" },
    });
    await inputs({ username: "u", password: "p" });
    expect(publishRuntimeInputs().auth).toEqual({ username: "u", password: "p" });
    await inputs({});
    expect(refused(publishRuntimeInputs)).toMatch(/input "username" is required for command publish-runtime/);
    await inputs({ username: "u" });
    expect(refused(publishRuntimeInputs)).toMatch(/input "password" is required for command publish-runtime/);
  });
});

describe("runSubmissionInputs", () => {
  const dispatch = {
    command: "run-submission",
    "submission-id": "sub-1",
    "gateway-url": "https://gateway.example/proctor/",
    "runner-credential": "prc_secret",
  };

  it("reads a dispatch's inputs over action.yml's defaults", async () => {
    await inputs(dispatch);
    expect(runSubmissionInputs()).toEqual({
      config: "competition.yml",
      flavour: "cpu",
      submissionId: "sub-1",
      attempt: null,
      gatewayUrl: "https://gateway.example/proctor",
      runnerCredential: "prc_secret",
      phase: "evaluation",
      githubToken: JOB_TOKEN,
      leaderboardBranch: "leaderboard",
      registryAuth: null,
    });
    await inputs({
      ...dispatch,
      attempt: "2",
      "cpu-or-gpu": "gpu",
      phase: "smoke_test",
      image: "org/rt:gpu",
      "max-zip-size": "10m",
      username: "u",
      password: "p",
      "sealing-public-key": "-----BEGIN PUBLIC KEY-----",
      "issue-number": "12",
      "status-sha": "abc",
    });
    expect(runSubmissionInputs()).toMatchObject({
      attempt: 2,
      flavour: "gpu",
      phase: "smoke_test",
      image: "org/rt:gpu",
      maxZipBytes: 10 * 1024 ** 2,
      registryAuth: { username: "u", password: "p" },
      sealingPublicKey: "-----BEGIN PUBLIC KEY-----",
      issueNumber: 12,
      statusSha: "abc",
    });
  });

  it("a dispatch without an issue to comment on passes none", async () => {
    await inputs({ ...dispatch, "issue-number": "" });
    expect(runSubmissionInputs().issueNumber).toBeUndefined();
  });

  it("names each input it refuses", async () => {
    await inputs({ ...dispatch, "runner-credential": "" });
    expect(refused(runSubmissionInputs)).toMatch(
      /^input "runner-credential" is required for command run-submission/,
    );
    await inputs({ ...dispatch, "submission-id": "../../etc;rm" });
    expect(refused(runSubmissionInputs)).toMatch(/^input "submission-id" must match/);
    await inputs({ ...dispatch, attempt: "0" });
    expect(refused(runSubmissionInputs)).toBe('input "attempt" must be a positive whole number, or empty');
    await inputs({ ...dispatch, "gateway-url": "gateway.example" });
    expect(refused(runSubmissionInputs)).toMatch(
      /^input "gateway-url" must be the gateway's http\(s\) base URL/,
    );
    await inputs({ ...dispatch, phase: "Final round;rm" });
    expect(refused(runSubmissionInputs)).toBe(
      'input "phase" must be a phase name (lowercase letters, digits, _ or -, starting with a letter), got "Final round;rm"',
    );
    await inputs({ ...dispatch, username: "u" });
    expect(refused(runSubmissionInputs)).toMatch(/^input "password" is required for command run-submission/);
  });
});
