import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IntakeDb, TokenRegistry } from "../intake/index.js";
import { generateSealingKeys } from "../leaderboard/index.js";
import { offlineImage } from "../runtime/test-support/offline-image.js";
import { EXIT_CODES } from "../status/index.js";
import { checkCommand } from "./check-command.js";
import { cli } from "./test-support/cli.js";
import { testSubmissionCommand } from "./test-submission-command.js";

/**
 * `proctor check` on the shipped custom-scorer example (examples/custom-scorer: RMSLE in scorer/score.py),
 * run through the real engine on the offline flavour, and on copies of it with one deliberate mistake
 * each: every mistake is found without running a submission, and named by file, key, rule and fix.
 */

const EXAMPLE = path.resolve("examples/custom-scorer");
let image: string;
let scratch: string;
let n = 0;

beforeAll(async () => {
  image = await offlineImage();
  scratch = await mkdtemp(path.join(os.tmpdir(), "proctor-check-"));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

/** A copy of the example with `edit` applied to the files it names (path → new text from the old). */
async function example(edit: Record<string, (text: string) => string> = {}): Promise<string> {
  const dir = path.join(scratch, `c${++n}`);
  await cp(EXAMPLE, dir, { recursive: true });
  for (const [file, change] of Object.entries(edit)) {
    const at = path.join(dir, file);
    await mkdir(path.dirname(at), { recursive: true });
    await writeFile(at, change(await readFile(at, "utf8").catch(() => "")));
  }
  return path.join(dir, "competition.yml");
}

const check = (config: string, ...extra: string[]) =>
  cli(checkCommand(), ["--config", config, "--image", image, ...extra]);

describe("proctor check", () => {
  it("passes the shipped example: its scorer gives the ground truth's own values the best RMSLE", async () => {
    const ran = await check(path.join(EXAMPLE, "competition.yml"));
    expect(ran.error).toBeUndefined();
    expect(ran.code).toBe(EXIT_CODES.succeeded);
    expect(ran.stdout).toMatch(/✔ .*scored by RMSLE \(lower is better\)/);
    expect(ran.stdout).toMatch(
      /✔ RMSLE on 80 rows made from the ground truth: its own values score 0, values one row off 0\.\d+/,
    );
    expect(ran.stdout).toMatch(/proctor check: the setup is right\n$/);
  });

  it("finds a typo in competition.yml, with its line, without going further", async () => {
    const ran = await check(
      await example({ "competition.yml": (t) => t.replace("precision: 4", "precison: 4") }),
    );
    expect(ran.code).toBe(EXIT_CODES.usageError);
    expect(ran.stdout).toMatch(/✘ .*competition\.yml:\d+: scoring\.precison .*precision/);
    expect(ran.stdout).toMatch(/1 problem to fix before any submission runs/);
  });

  it("finds the README's old scorer path (/scoring/score.py) and a scorer file that is not in script_dir", async () => {
    const old = await check(
      await example({ "competition.yml": (t) => t.replace("/scoring/scorer/score.py", "/scoring/score.py") }),
    );
    expect(old.code).toBe(EXIT_CODES.usageError);
    expect(old.stdout).toMatch(
      /scoring\.metric\.custom\.command\[1\] names \/scoring\/score\.py.*\/scoring\/scorer\/score\.py/,
    );
    const missing = await check(
      await example({
        "competition.yml": (t) => t.replace("/scoring/scorer/score.py", "/scoring/scorer/scores.py"),
      }),
    );
    expect(missing.stdout).toMatch(
      /✘ .*scoring\.metric\.custom\.command: \/scoring\/scorer\/scores\.py is .*scores\.py in script_dir, which does not exist; fix the name/,
    );
  });

  it("finds a metric that does not fit the format", async () => {
    const ran = await check(
      await example({
        "competition.yml": (t) =>
          t.replace(/ {2}metric:\n {4}custom:\n(?: {6}.*\n)+/, "  metric: accuracy\n"),
      }),
    );
    expect(ran.code).toBe(EXIT_CODES.usageError);
    expect(ran.stdout).toMatch(
      /✘ .*scoring\.metric: accuracy cannot score the submission format .*format\.yml: accuracy needs/,
    );
  });

  it("finds a missing column: the usage split, and the scorer failing on the ground truth without its target", async () => {
    const noUsage = await check(
      await example({ "data/ground_truth.csv": (t) => t.replace(/,(Public|Private|usage)$/gm, "") }),
    );
    expect(noUsage.stdout).toMatch(
      /✘ .*paths\.ground_truth: .*has no "usage" column \(scoring\.usage_column\)/,
    );
    const noTarget = await check(
      await example({ "data/ground_truth.csv": (t) => t.replace(/^(\w+),[^,]+,/gm, "$1,") }),
    );
    expect(noTarget.code).toBe(EXIT_CODES.usageError);
    expect(noTarget.stdout).toMatch(
      /✘ .*scoring\.metric\.custom: the scorer RMSLE failed on predictions made from the ground truth's own values \(the organizer's to fix.*KeyError: 'price'/,
    );
  });

  it("finds a scorer that prints no score, and a direction the scorer contradicts", async () => {
    const silent = await check(
      await example({ "scorer/score.py": (t) => t.replace("print(json.dumps(", "print(repr(") }),
    );
    expect(silent.stdout).toMatch(/✘ .*the scorer RMSLE failed .*must print a JSON object/);
    const upside = await check(
      await example({ "competition.yml": (t) => t.replace("direction: lower ", "direction: higher") }),
    );
    expect(upside.stdout).toMatch(
      /✘ .*scoring\.metric\.custom\.direction says higher is better, but RMSLE scored the ground truth's own values 0 and values one row off 0\.\d+; fix the direction/,
    );
  });

  it("names the phases, and a hidden-set phase no runner_paths name; a phase name that is no name is a problem", async () => {
    const phases = `
timeline:
  phases:
    - { name: practice, start: 2025-03-01T00:00:00Z, data: public_sample }
    - { name: final, start: 2026-01-01T00:00:00Z, final: true }
`;
    const ran = await check(await example({ "competition.yml": (t) => t + phases }));
    expect(ran.stdout).toMatch(/✔ .*phases practice \(public sample\) → final \(hidden set, final\)/);
    expect(ran.stdout).toMatch(
      /– timeline\.phases\[1\] \(final\) runs on the hidden set, but neither it nor .*runner_paths/,
    );
    expect(ran.code).toBe(EXIT_CODES.succeeded);
    const typo = await check(
      await example({
        "competition.yml": (t) => t + phases.replace("name: practice", "name: Practice Round"),
      }),
    );
    expect(typo.code).toBe(EXIT_CODES.usageError);
    expect(typo.stdout).toMatch(/✘ .*timeline\.phases\[0\]\.name must be lowercase letters/);
  });

  it("checks runner paths that are on this machine, keyed by where they are set", async () => {
    const config = await example();
    const dir = path.dirname(config);
    await writeFile(path.join(dir, "hidden.csv"), "id,price\nh000,1\n");
    await writeFile(
      config,
      (await readFile(config, "utf8")) +
        `runner_paths: { data_dir: ${path.join(dir, "data/test_features")}, ground_truth: ${path.join(dir, "hidden.csv")} }\n`,
    );
    const ran = await check(config);
    expect(ran.stdout).toMatch(/✘ .*runner_paths\.ground_truth: .*hidden\.csv has no "usage" column/);
    expect(ran.stdout).toMatch(/✔ paths: /);
  });

  it("checks the sealing key pair where the private key is held, and the gateway's token with --gateway", async () => {
    const pair = generateSealingKeys();
    const other = generateSealingKeys();
    const config = await example({
      "keys/leaderboard.pub.pem": () => pair.publicKeyPem,
      "right.key.pem": () => pair.privateKeyPem,
      "wrong.key.pem": () => other.privateKeyPem,
      "competition.yml": (t) =>
        t.replace("  store:", "  sealing_public_key: keys/leaderboard.pub.pem\n  store:"),
    });
    const dir = path.dirname(config);
    const right = await check(config, "--key", path.join(dir, "right.key.pem"));
    expect(right.code).toBe(EXIT_CODES.succeeded);
    expect(right.stdout).toMatch(
      /✔ --key .*right\.key\.pem opens what leaderboard\.sealing_public_key seals/,
    );
    const wrong = await check(config, "--key", path.join(dir, "wrong.key.pem"));
    expect(wrong.code).toBe(EXIT_CODES.usageError);
    expect(wrong.stdout).toMatch(
      /✘ --key .*wrong\.key\.pem does not open what leaderboard\.sealing_public_key .* seals: .*pass the private key of the same pair/,
    );

    const saved = { p: process.env["PROCTOR_GITHUB_TOKEN"], g: process.env["GITHUB_TOKEN"] };
    delete process.env["PROCTOR_GITHUB_TOKEN"];
    delete process.env["GITHUB_TOKEN"];
    try {
      const gateway = await check(config, "--gateway", "--data-dir", path.join(dir, "gw"));
      expect(gateway.stdout).toMatch(
        /✘ PROCTOR_GITHUB_TOKEN: not set \(nor GITHUB_TOKEN\).*set it to a token/,
      );
      expect(gateway.stdout).toMatch(/– --data-dir .*gw: no gateway data yet; proctor runners add/);
      // The gateway's database with an admin token only: the runners' and participants' are still to make.
      await mkdir(path.join(dir, "gw"));
      const admins = new IntakeDb(path.join(dir, "gw", "intake.sqlite"));
      new TokenRegistry(admins, "admin").add("org");
      admins.close();
      const tokens = await check(config, "--gateway", "--data-dir", path.join(dir, "gw"));
      expect(tokens.stdout).toMatch(
        /– --data-dir .*gw: no runner credential: runners cannot take submissions; make one with proctor runners add/,
      );
      expect(tokens.stdout).toMatch(/– --data-dir .*gw: no participant token yet/);
      expect(tokens.stdout).not.toMatch(/no admin token/);
    } finally {
      if (saved.p !== undefined) process.env["PROCTOR_GITHUB_TOKEN"] = saved.p;
      if (saved.g !== undefined) process.env["GITHUB_TOKEN"] = saved.g;
    }
  });

  it("says a scorer could not be run here (no such image) with the infrastructure code, not as a problem", async () => {
    const ran = await cli(checkCommand(), [
      "--config",
      path.join(EXAMPLE, "competition.yml"),
      "--image",
      "proctor-test/no-such-image:never",
    ]);
    expect(ran.code).toBe(EXIT_CODES.infrastructureError);
    expect(ran.stdout).toMatch(
      /⚠ scoring\.metric\.custom: the scorer RMSLE was not run: none of proctor-test\/no-such-image:never/,
    );
    expect(ran.stdout).not.toMatch(/✘/);
  });
});

describe("the custom-scorer example through proctor test-submission", () => {
  it("scores the example submission with the RMSLE scorer and names the score", async () => {
    const config = await example({
      "competition.yml": (t) => t.replace("../../.proctor/leaderboard.sqlite", "board.sqlite"),
    });
    const run = () =>
      cli(testSubmissionCommand(), [
        ...["--config", config, "--from", path.join(EXAMPLE, "example_submission")],
        ...["--image", image, "--output", path.join(path.dirname(config), "last-run")],
      ]);
    const ran = await run();
    expect(ran.error).toBeUndefined();
    expect(ran.code).toBe(0);
    expect(ran.stdout).toMatch(/✔ succeeded: scored/);
    expect(ran.stdout).toMatch(/score {7}RMSLE: public 0\.1\d{3}, private 0\.1\d{3}/);

    // A changed scorer starts a new local board, and the run says so.
    const scorer = path.join(path.dirname(config), "scorer", "score.py");
    await writeFile(scorer, (await readFile(scorer, "utf8")) + "\n# a fix\n");
    const again = await run();
    expect(again.stderr).toMatch(
      /note: a new local leaderboard: the metric changed since the earlier board of "House prices \(custom scorer example\)" \(1 entry, kept apart\)/,
    );
  });
});
