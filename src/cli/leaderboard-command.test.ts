import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IntakeDb } from "../intake/index.js";
import { loadCompetition } from "../config/index.js";
import { generateSealingKeys, sealScore, SqliteLeaderboardStore } from "../leaderboard/index.js";
import { makeEntry } from "../leaderboard/test-support/entries.js";
import { leaderboardCommand } from "./leaderboard-command.js";
import { localStore } from "./local-board.js";
import { cli } from "./test-support/cli.js";
import { UsageError } from "./usage-error.js";

let dir: string;
const keys = generateSealingKeys();

const COMPETITION = `name: Reveal
runtime: { image: proctor/runtime }
paths: { data_dir: data, ground_truth: gt.csv, submission_format: format.yml }
scoring: { metric: accuracy, direction: higher, precision: 2 }
leaderboard: { store: leaderboard.sqlite }
`;

/** Three entries of one participant on the competition's own board: public 0.9/0.8/0.1, private 0.2/0.7/0.99. */
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-reveal-"));
  await writeFile(path.join(dir, "key.pem"), keys.privateKeyPem);
  await writeFile(path.join(dir, "competition.yml"), COMPETITION);
  const store = await localStore(await loadCompetition(path.join(dir, "competition.yml")));
  const at = (day: number) => `2025-03-0${day}T00:00:00.000Z`;
  for (const [id, pub, priv, day] of [
    ["a1", 0.9, 0.2, 1],
    ["a2", 0.8, 0.7, 2],
    ["a3", 0.1, 0.99, 3],
  ] as const) {
    await store.record(
      makeEntry({
        submissionId: id,
        participant: "ada",
        publicScore: pub,
        submittedAt: at(day),
        sealedPrivateScore: sealScore(priv, id, keys.publicKeyPem),
      }),
    );
  }
  await store.close();
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function reveal(finalSelection: string, extra: string[] = []) {
  const config = path.join(dir, `competition-${Math.random().toString(36).slice(2)}.yml`);
  await writeFile(config, `${COMPETITION}final_selection: ${finalSelection}\n`);
  return cli(leaderboardCommand(), [
    "reveal",
    "--key",
    path.join(dir, "key.pem"),
    "--config",
    config,
    "--format",
    "json",
    ...extra,
  ]);
}

const top = (stdout: string) =>
  (JSON.parse(stdout) as { rows: Record<string, unknown>[] }).rows.map((r) => [
    r["submissionId"],
    r["privateScore"],
  ]);

describe("proctor leaderboard reveal", () => {
  it("ranks by the best private score among each participant's final selection", async () => {
    expect(top((await reveal("{ mode: best, count: 1 }")).stdout)).toEqual([["a1", 0.2]]);
    expect(top((await reveal("{ mode: best, count: 2 }")).stdout)).toEqual([["a2", 0.7]]);
    expect(top((await reveal("{ mode: best, count: 3 }")).stdout)).toEqual([["a3", 0.99]]);
  });

  it("uses the participants' choices on the gateway with --chosen-from", async () => {
    const gateway = path.join(dir, "gateway");
    const { mkdir } = await import("node:fs/promises");
    await mkdir(gateway);
    const db = new IntakeDb(path.join(gateway, "intake.sqlite"));
    try {
      // The gateway's records of the same submission ids, one of them chosen.
      for (const id of ["a1", "a2", "a3"])
        db.insertSubmission({
          id,
          participant: "ada",
          cpuOrGpu: "cpu",
          zipSha256: "0",
          zipBytes: 1,
          submittedAtMs: 0,
        });
      db.setChosen("ada", "a3", true, 1);
    } finally {
      db.close();
    }
    expect(top((await reveal("{ mode: chosen, count: 1 }", ["--chosen-from", gateway])).stdout)).toEqual([
      ["a3", 0.99],
    ]);
    // Without the choices, the best by public score counts.
    expect(top((await reveal("{ mode: chosen, count: 1 }")).stdout)).toEqual([["a1", 0.2]]);
    const missing = await reveal("{ mode: chosen, count: 1 }", ["--chosen-from", path.join(dir, "nowhere")]);
    expect(missing.error).toBeInstanceOf(UsageError);
    expect((missing.error as Error).message).toContain("no intake.sqlite there");
  });
});

describe("proctor leaderboard show", () => {
  const show = (config: string) =>
    cli(leaderboardCommand(), ["show", "--config", config, "--format", "json"]);
  const ids = (stdout: string) =>
    (JSON.parse(stdout) as { rows: Record<string, unknown>[] }).rows.map((r) => r["submissionId"]);

  it("shows the competition's own board only, and says in one line what else the file holds", async () => {
    // An entry from before boards were kept: the unknown setup's.
    const old = new SqliteLeaderboardStore(path.join(dir, "leaderboard.sqlite"));
    await old.record(makeEntry({ submissionId: "f1-old", participant: "bob", publicScore: 0.99 }));
    await old.close();
    const shown = await show(path.join(dir, "competition.yml"));
    expect(shown.error).toBeUndefined();
    expect(ids(shown.stdout)).toEqual(["a1"]);
    expect(shown.stderr).toMatch(/^note: 1 entry of other competitions or an unknown setup not shown/);
    expect(shown.stderr.trim().split("\n")).toHaveLength(1);

    // A changed metric (and so direction) starts a new board of the same competition, and says what changed.
    const changed = path.join(dir, "changed.yml");
    await writeFile(changed, COMPETITION.replace("metric: accuracy, direction: higher", "metric: f1_macro"));
    const fresh = await show(changed);
    expect(ids(fresh.stdout)).toEqual([]);
    expect(fresh.stderr).toMatch(
      /^note: a new local leaderboard: the metric changed since the earlier board of "Reveal" \(3 entries, kept apart\); 1 entry of other competitions/,
    );
  });
});

describe("proctor leaderboard keygen", () => {
  it("writes the private key where the repository's .gitignore keeps it out of git, the public key where it does not", async () => {
    const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
    const out = path.join(dir, "keys");
    const ran = await cli(leaderboardCommand(), ["keygen", "--out-dir", out]);
    expect(ran.error).toBeUndefined();
    // The README's `--out-dir keys/`, as paths inside the repository (check-ignore needs no such file).
    const ignored = async (file: string) =>
      promisify(execFile)("git", [
        "-C",
        repo,
        "check-ignore",
        "--no-index",
        "-q",
        path.join("keys", file),
      ]).then(
        () => true,
        () => false,
      );
    expect(await ignored("leaderboard.key.pem")).toBe(true);
    expect(await ignored("leaderboard.pub.pem")).toBe(false);
  });
});
