import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { imageRef, loadCompetition, logVisibility } from "./competition.js";
import { competitionFiles, MINIMAL_COMPETITION } from "./test-support/competition-files.js";

const files = competitionFiles("proctor-config-");
const { issuesOf } = files;

async function load(text: string) {
  const file = await files.write(text);
  return { file, load: () => loadCompetition(file) };
}

describe("competition.yml", () => {
  it("loads the repository's own competition.yml", async () => {
    const c = await loadCompetition("competition.yml");
    expect(c.name).toMatch(/Penguin/);
    expect(c.limits.timeLimitMs).toBe(10 * 60_000);
    expect(c.limits.memoryBytes).toBe(4 * 1024 ** 3);
    expect(c.zipLimits.maxZipBytes).toBe(1024 ** 3);
    expect(c.paths.groundTruth).toBe(path.resolve("data/ground_truth.csv"));
    expect(c.leaderboard).toMatchObject({ direction: "higher", dailyLimit: 5, selection: "best" });
    expect(imageRef(c, "offline")).toBe("proctor/runtime:cpu-offline");
  });

  it("fills defaults and resolves paths against the file's folder", async () => {
    const { file, load: go } = await load(MINIMAL_COMPETITION);
    const c = await go();
    expect(c.paths.dataDir).toBe(path.join(path.dirname(file), "data/x"));
    expect(c.image).toEqual({
      repository: "org/runtime",
      cpuTag: "cpu-latest",
      gpuTag: "gpu-latest",
      offlineTag: "cpu-offline",
    });
    expect(c.leaderboard.countFailed).toBe(true);
    // The hidden set shows no logs unless the organizer says otherwise: a program can print what it reads.
    expect(c.logs).toEqual({
      visibility: { local: "full", smoke_test: "full", evaluation: "none" },
      tailLines: 20,
      maxBytes: 16 * 1024,
    });
    expect(c.runners).toEqual(["cpu"]);
  });

  it("declares its kinds of runners: cpu, gpu or both, at least one", async () => {
    const both = await load(MINIMAL_COMPETITION + "runners: [gpu, cpu, gpu]\n");
    expect((await both.load()).runners).toEqual(["gpu", "cpu"]);
    const none = await issuesOf(MINIMAL_COMPETITION + "runners: []\n");
    expect(none[0]).toMatchObject({ key: "runners" });
    expect(none[0]!.message).toMatch(/at least 1/);
    const tpu = await issuesOf(MINIMAL_COMPETITION + "runners: [tpu]\n");
    expect(tpu[0]!.key).toMatch(/^runners/);
  });

  it("names the file, line, key and rule of a bad unit", async () => {
    const issues = await issuesOf(MINIMAL_COMPETITION + "limits:\n  time: soon\n  memory: 4 gallons\n");
    expect(issues).toHaveLength(2);
    expect(issues[0]).toMatchObject({ line: 12, key: "limits.time" });
    expect(issues[0]!.message).toMatch(/like 90s, 30m/);
    expect(issues[1]).toMatchObject({ line: 13, key: "limits.memory" });
  });

  it("reports a misspelt key, an unknown metric and a missing key with their lines", async () => {
    const text = MINIMAL_COMPETITION.replace("metric: rmse", "metric: rmsee").replace(
      "runtime:\n  image: org/runtime\n",
      "runtime:\n  imag: org/runtime\n",
    );
    const issues = await issuesOf(text);
    const byKey = Object.fromEntries(issues.map((i) => [i.key, i]));
    expect(byKey["runtime.imag"]).toMatchObject({ line: 3 });
    expect(byKey["runtime.imag"]!.message).toMatch(/not a known key/);
    expect(byKey["runtime.image"]!.message).toMatch(/is required/);
    expect(byKey["scoring.metric"]).toMatchObject({ line: 9 });
  });

  it("says which key a misspelt one probably is, and which keys the mapping has", async () => {
    const issues = await issuesOf(
      MINIMAL_COMPETITION + "limits:\n  memroy: 4g\nleaderbord:\n  daily_limit: 3\n",
    );
    const byKey = Object.fromEntries(issues.map((i) => [i.key, i.message]));
    expect(byKey["limits.memroy"]).toMatch(
      /not a known key \(did you mean "memory"\?\).*known keys here: time, grace, memory/,
    );
    expect(byKey["leaderbord"]).toMatch(/did you mean "leaderboard"/);
  });

  it("lists the built-in metrics for an unknown one, with the closest", async () => {
    const issues = await issuesOf(MINIMAL_COMPETITION.replace("metric: rmse", "metric: f1-macro"));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ key: "scoring.metric", line: 9 });
    expect(issues[0]!.message).toMatch(/did you mean "f1_macro"/);
    expect(issues[0]!.message).toMatch(/accuracy, balanced_accuracy, f1_macro, .*mape/);
  });

  it("refuses a direction that contradicts the metric", async () => {
    const issues = await issuesOf(MINIMAL_COMPETITION.replace("direction: lower", "direction: higher"));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ key: "scoring.direction", line: 10 });
    expect(issues[0]!.message).toMatch(/must be "lower" for rmse/);
  });

  it("takes usage_column: null for a ground truth without a public/private split", async () => {
    const { load: go } = await load(MINIMAL_COMPETITION + "  usage_column: null\n");
    expect((await go()).scoring.usageColumn).toBeNull();
  });

  it("refuses invalid YAML with its line, and a missing file with the fix", async () => {
    const issues = await issuesOf("name: [unclosed\n");
    expect(issues[0]!.message).toMatch(/not valid YAML/);
    expect(issues[0]!.line).toBeGreaterThan(0);
    await expect(loadCompetition(path.join(files.folder(), "nope.yml"))).rejects.toThrow(
      /does not exist; create it/,
    );
  });

  it("accepts a custom scorer with its name and direction, and rejects an empty command", async () => {
    const custom = MINIMAL_COMPETITION.replace(
      "metric: rmse\n  direction: lower",
      "metric:\n    custom:\n      name: RMSLE\n      direction: lower\n      script_dir: scorer\n      command: [python3, /scoring/scorer/score.py]",
    );
    const { load: go } = await load(custom);
    const c = await go();
    expect(c.scoring.metric).toMatchObject({
      custom: { name: "RMSLE", command: ["python3", "/scoring/scorer/score.py"] },
    });
    expect(c.scoring.direction).toBe("lower");
    expect(c.leaderboard.direction).toBe("lower");
    const issues = await issuesOf(
      MINIMAL_COMPETITION.replace("metric: rmse", "metric:\n    custom:\n      command: []"),
    );
    expect(issues.some((i) => i.key === "scoring.metric.custom.command" || i.key === "scoring.metric")).toBe(
      true,
    );
  });

  it("takes the direction from the custom scorer or scoring.direction, refusing two that disagree or none", async () => {
    const custom = (scorer: string, direction = "") =>
      MINIMAL_COMPETITION.replace(
        "metric: rmse\n  direction: lower",
        `metric:\n    custom: { ${scorer}command: [python3, /scoring/scorer/s.py], script_dir: s }${direction}`,
      );
    const fromScoring = await load(custom("", "\n  direction: higher"));
    expect((await fromScoring.load()).scoring.direction).toBe("higher");
    expect((await issuesOf(custom("direction: higher, ", "\n  direction: lower")))[0]).toMatchObject({
      key: "scoring.direction",
      message: expect.stringMatching(
        /"lower" but scoring\.metric\.custom\.direction is "higher"; they must agree/,
      ),
    });
    const none = await issuesOf(custom(""));
    expect(none[0]).toMatchObject({ key: "scoring.metric.custom.direction" });
    expect(none[0]!.message).toMatch(/a higher or a lower custom score is better/);
  });

  it("refuses a scorer command that names a /scoring path the scorer is not given (the README's old example)", async () => {
    const custom = (scorer: string) =>
      MINIMAL_COMPETITION.replace("metric: rmse", `metric:\n    custom: { ${scorer} }`);
    const typo = await issuesOf(custom("command: [python3, /scoring/score.py], script_dir: scorer"));
    expect(typo[0]).toMatchObject({ key: "scoring.metric.custom.command[1]" });
    expect(typo[0]!.message).toMatch(
      /\/scoring\/score\.py, which the scorer is not given.*at \/scoring\/scorer\/score\.py/,
    );
    const noDir = await issuesOf(custom("command: [python3, /scoring/scorer/score.py]"));
    expect(noDir[0]!.message).toMatch(/no script_dir is set.*set script_dir/);
    // The inputs themselves are fine as arguments.
    const inputs = await load(
      custom("command: [my-scorer, /scoring/predictions.jsonl, /scoring/ground_truth.csv], direction: lower"),
    );
    expect((await inputs.load()).scoring.metric).toMatchObject({ custom: { name: "custom score" } });
  });

  it("takes a built-in metric's own direction when scoring.direction is left out", async () => {
    const { load: go } = await load(MINIMAL_COMPETITION.replace("  direction: lower\n", ""));
    expect((await go()).scoring.direction).toBe("lower");
  });

  it("resolves a custom scorer: its folder against the file's, the competition's limits with its time and memory", async () => {
    const custom = MINIMAL_COMPETITION.replace(
      "metric: rmse",
      "metric:\n    custom: { name: Dice, command: [python3, score.py], script_dir: scorer, time: 2m, memory: 1g }",
    );
    const { file, load: go } = await load(custom + "limits: { cpus: 2 }\n");
    const c = await go();
    expect(c.scoring.metric).toEqual({
      custom: {
        name: "Dice",
        command: ["python3", "score.py"],
        scriptDir: path.join(path.dirname(file), "scorer"),
        limits: { ...c.limits, timeLimitMs: 2 * 60_000, memoryBytes: 1024 ** 3 },
      },
    });
    expect(c.limits.cpus).toBe(2);
  });

  it("reads the sealing key's PEM text at load, or takes it as given without reading the file", async () => {
    await writeFile(path.join(files.folder(), "board.pub.pem"), "-----BEGIN PUBLIC KEY-----\nabc\n");
    const sealed = MINIMAL_COMPETITION + "leaderboard: { sealing_public_key: board.pub.pem }\n";
    const { load: go } = await load(sealed);
    expect((await go()).leaderboard.sealingPublicKeyPem).toBe("-----BEGIN PUBLIC KEY-----\nabc\n");
    expect(
      (await load(MINIMAL_COMPETITION).then(({ load: l }) => l())).leaderboard.sealingPublicKeyPem,
    ).toBeUndefined();

    const missing = MINIMAL_COMPETITION + "leaderboard: { sealing_public_key: keys/none.pem }\n";
    const issues = await issuesOf(missing);
    expect(issues).toEqual([
      expect.objectContaining({ key: "leaderboard.sealing_public_key", rule: "unreadable" }),
    ]);
    expect(issues[0]!.message).toMatch(/keys\/none\.pem, which does not exist; make the key pair/);
    const given = await load(missing);
    const c = await loadCompetition(given.file, { sealingPublicKeyPem: "PEM FROM A SECRET" });
    expect(c.leaderboard.sealingPublicKeyPem).toBe("PEM FROM A SECRET");
  });

  it("derives the memory-backed caps from memory unless set, and takes the runtime", async () => {
    const { load: go } = await load(
      MINIMAL_COMPETITION + "limits:\n  memory: 512m\n  tmp: 200m\n  runtime: runsc\n",
    );
    const c = await go();
    expect(c.limits).toMatchObject({
      memoryBytes: 512 * 1024 ** 2,
      tmpBytes: 200 * 1024 ** 2,
      outputBytes: 128 * 1024 ** 2,
      shmBytes: 64 * 1024 ** 2,
      runtime: "runsc",
    });
    const { load: defaults } = await load(MINIMAL_COMPETITION);
    expect((await defaults()).limits.runtime).toBe("runc");
  });

  it("refuses memory-backed caps that add up past memory, and an odd runtime name, by line", async () => {
    const caps = await issuesOf(MINIMAL_COMPETITION + "limits:\n  memory: 512m\n  output_size: 512m\n");
    expect(caps[0]).toMatchObject({ key: "limits.output_size", line: 13 });
    expect(caps[0]!.message).toMatch(/more than limits.memory .*lower them/);
    const runtime = await issuesOf(MINIMAL_COMPETITION + "limits:\n  runtime: run c\n");
    expect(runtime[0]).toMatchObject({ key: "limits.runtime", line: 12 });
    expect(runtime[0]!.message).toMatch(/OCI runtime name such as runc or runsc/);
  });

  it("says what logs a phase shows: the timeline's phase first, else logs:, for runners and the gateway alike", async () => {
    const { load: go } = await load(
      MINIMAL_COMPETITION +
        "logs: { evaluation: tail, smoke_test: none }\n" +
        "timeline:\n  phases:\n    - { name: smoke_test, start: 2025-03-01T00:00:00Z, logs: full }\n" +
        "    - { name: evaluation, start: 2025-03-10T00:00:00Z }\n",
    );
    const c = await go();
    expect(logVisibility(c, "smoke_test")).toBe("full");
    expect(logVisibility(c, "evaluation")).toBe("tail");
    expect(logVisibility(c, "local")).toBe("full");
  });
});
