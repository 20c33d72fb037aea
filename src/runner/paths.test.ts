import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadCompetition, logKind, logVisibility, phaseLimits } from "../config/index.js";
import { competitionFiles, MINIMAL_COMPETITION } from "../config/test-support/competition-files.js";
import { runnerPaths } from "./paths.js";

const files = competitionFiles("proctor-phase-paths-");

const PHASES = `${MINIMAL_COMPETITION}runner_paths: { data_dir: /srv/hidden, ground_truth: /srv/hidden_gt.csv }
logs: { smoke_test: full, evaluation: none }
timeline:
  phases:
    - { name: warm-up, start: 2025-03-01T00:00:00Z, data: public_sample }
    - { name: main, start: 2025-03-10T00:00:00Z, limits: { time: 30m, memory: 256m, cpus: 4 } }
    - { name: extra, start: 2025-03-20T00:00:00Z, logs: tail, runner_paths: { data_dir: /srv/extra, ground_truth: /srv/extra_gt.csv } }
`;

describe("a phase's data and logs, by its name", () => {
  it("a public-sample phase runs on the repository's sample with the smoke test's logs; a hidden one on the runner's disk", async () => {
    const competition = await loadCompetition(await files.write(PHASES));
    const sample = {
      dataDir: path.join(files.folder(), "data/x"),
      groundTruth: path.join(files.folder(), "truth.csv"),
    };
    expect(runnerPaths(competition, "warm-up")).toMatchObject(sample);
    expect(runnerPaths(competition, "main")).toEqual({
      dataDir: "/srv/hidden",
      groundTruth: "/srv/hidden_gt.csv",
    });
    expect(runnerPaths(competition, "extra")).toEqual({
      dataDir: "/srv/extra",
      groundTruth: "/srv/extra_gt.csv",
    });
    // A local runner on the organizer's clone reads the clone's data where a phase names no paths of its own.
    expect(runnerPaths(competition, "main", { local: true })).toMatchObject(sample);
    expect([logKind(competition, "warm-up"), logVisibility(competition, "warm-up")]).toEqual([
      "smoke_test",
      "full",
    ]);
    expect([logKind(competition, "main"), logVisibility(competition, "main")]).toEqual([
      "evaluation",
      "none",
    ]);
    expect(logVisibility(competition, "extra")).toBe("tail");
  });

  it("a phase's own limits go over competition.yml's; its memory-backed folders fit its memory", async () => {
    const competition = await loadCompetition(await files.write(PHASES));
    expect(phaseLimits(competition, "warm-up")).toBe(competition.limits);
    const main = phaseLimits(competition, "main");
    expect(main).toMatchObject({ timeLimitMs: 30 * 60_000, memoryBytes: 256 * 1024 ** 2, cpus: 4 });
    expect(main.graceMs).toBe(competition.limits.graceMs);
    expect(main.outputBytes + main.tmpBytes + main.shmBytes).toBeLessThan(main.memoryBytes);
    expect(main.tmpBytes).toBeLessThan(competition.limits.tmpBytes);
  });

  it("a name no timeline has is treated as the hidden set: its logs the most guarded", async () => {
    const competition = await loadCompetition(await files.write(PHASES));
    expect(logKind(competition, "no-such-phase")).toBe("evaluation");
    expect(logKind(competition, "local")).toBe("local");
    expect(runnerPaths(competition, "no-such-phase")).toEqual({
      dataDir: "/srv/hidden",
      groundTruth: "/srv/hidden_gt.csv",
    });
  });
});
