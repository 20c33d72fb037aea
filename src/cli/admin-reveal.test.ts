/**
 * `proctor admin reveal` and `proctor admin export` on a gateway's data dir (real SQLite, the gateway on
 * 127.0.0.1): the reveal refused before the end and with an unreadable key, forced, then served; the
 * export as CSV and JSON to a file.
 */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  COMPETITION_YML,
  getJson,
  GOOD_ZIP,
  postResult,
  startHarness,
  SUCCEEDED,
  upload,
  type Harness,
} from "../gateway/test-support/harness.js";
import { generateSealingKeys, sealScore } from "../leaderboard/index.js";
import { adminCommand } from "./admin-command.js";
import { cli } from "./test-support/cli.js";
import { UsageError } from "./usage-error.js";

// Ends long after today: the reveal must be forced.
const YML = `${COMPETITION_YML}
timeline:
  start: 2025-03-01T00:00:00Z
  end: 2099-01-01T00:00:00Z
  phases:
    - { name: smoke_test, start: 2025-03-01T00:00:00Z }
    - { name: evaluation, start: 2025-03-10T00:00:00Z }
`;

const keys = generateSealingKeys();
let h: Harness;
let keyFile: string;
let id: string;
beforeAll(async () => {
  h = await startHarness({}, YML);
  keyFile = path.join(h.dir, "leaderboard.key.pem");
  await writeFile(keyFile, keys.privateKeyPem, { mode: 0o600 });
  h.clock.now = new Date("2025-03-12T00:00:00Z");
  const response = await upload(h, h.token("dana"), await GOOD_ZIP());
  id = (response.json()["submission"] as { submission_id: string }).submission_id;
  const sealed = sealScore(0.66, id, keys.publicKeyPem);
  expect((await postResult(h, id, h.runner, { ...SUCCEEDED, private_score_sealed: sealed })).status).toBe(
    200,
  );
});
afterAll(() => h.close());

const admin = (...args: string[]) =>
  cli(adminCommand(), [...args, "--data-dir", h.dataDir, "--config", path.join(h.dir, "competition.yml")]);

describe("proctor admin reveal", () => {
  it("is refused before timeline.end, naming the date and --force", async () => {
    const ran = await admin("reveal", "--key", keyFile);
    expect(ran.error).toBeInstanceOf(UsageError);
    expect(String(ran.error)).toMatch(/ends at 2099-01-01T00:00:00.000Z.*--force/);
  });

  it("names a key file it cannot read, and a data dir with no gateway", async () => {
    const noKey = await admin("reveal", "--key", path.join(h.dir, "missing.pem"), "--force");
    expect(String(noKey.error)).toMatch(/missing\.pem: cannot read this file/);
    const noData = await cli(adminCommand(), [
      "reveal",
      "--key",
      keyFile,
      "--force",
      "--data-dir",
      path.join(h.dir, "nowhere"),
      "--config",
      path.join(h.dir, "competition.yml"),
    ]);
    expect(String(noData.error)).toMatch(/no intake\.sqlite there/);
  });

  it("forced, publishes the final ranking on the running gateway", async () => {
    const ran = await admin("reveal", "--key", keyFile, "--force", "--json");
    expect(ran.error).toBeUndefined();
    expect(JSON.parse(ran.stdout)).toMatchObject({ phase: "evaluation", ranked_entries: 1 });
    const board = (await getJson(h, "/v1/leaderboard?board=private")).json();
    expect(board["rows"]).toEqual([
      expect.objectContaining({ rank: 1, participant: "dana", privateScore: 0.66 }),
    ]);
  });
});

describe("proctor admin reveal --repo", () => {
  const withToken = async <T>(token: string | undefined, use: () => Promise<T>): Promise<T> => {
    const saved = { p: process.env["PROCTOR_GITHUB_TOKEN"], g: process.env["GITHUB_TOKEN"] };
    delete process.env["PROCTOR_GITHUB_TOKEN"];
    if (token === undefined) delete process.env["GITHUB_TOKEN"];
    else process.env["GITHUB_TOKEN"] = token;
    try {
      return await use();
    } finally {
      for (const [name, value] of [
        ["PROCTOR_GITHUB_TOKEN", saved.p],
        ["GITHUB_TOKEN", saved.g],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  };
  const revealOn = (...extra: string[]) =>
    admin(
      "reveal",
      "--key",
      keyFile,
      "--force",
      "--repo",
      "org/comp",
      "--github-api-url",
      h.fake.url,
      ...extra,
    );

  it("publishes the final ranking on the leaderboard branch, once (the same reveal again commits nothing)", async () => {
    const first = await withToken(h.fake.token, () => revealOn("--json"));
    expect(first.error).toBeUndefined();
    expect(JSON.parse(first.stdout)).toMatchObject({
      branch_files_written: ["private-leaderboard.json", "PRIVATE.md"],
    });
    const json = JSON.parse(h.fake.file("org", "comp", "private-leaderboard.json", "leaderboard")!) as {
      mode: string;
      phase: string;
      rows: unknown[];
    };
    expect(json.mode).toBe("private");
    expect(json.phase).toBe("evaluation");
    expect(json.rows).toEqual([expect.objectContaining({ participant: "dana", privateScore: 0.66 })]);
    expect(h.fake.file("org", "comp", "PRIVATE.md", "leaderboard")).toContain("dana");
    const again = await withToken(h.fake.token, () => revealOn());
    expect(again.stdout).toContain("branch leaderboard already had it");
  });

  it("names what is missing: the token, a well-formed --repo", async () => {
    const noToken = await withToken(undefined, () => revealOn());
    expect(String(noToken.error)).toMatch(/no GitHub token; set PROCTOR_GITHUB_TOKEN/);
    const badRepo = await withToken(h.fake.token, () =>
      admin("reveal", "--key", keyFile, "--force", "--repo", "just-a-name"),
    );
    expect(String(badRepo.error)).toMatch(/--repo "just-a-name" must be owner\/name/);
  });
});

describe("proctor admin export", () => {
  it("writes every submission as CSV or JSON, private scores once revealed", async () => {
    const csvFile = path.join(h.dir, "out", "submissions.csv");
    expect((await admin("export", "--out", csvFile)).error).toBeUndefined();
    const rows = parse(await readFile(csvFile, "utf8"), { columns: true }) as Record<string, string>[];
    expect(rows).toEqual([
      expect.objectContaining({ submission_id: id, participant: "dana", private_score: "0.66" }),
    ]);
    const json = await admin("export", "--format", "json");
    expect(JSON.parse(json.stdout)).toMatchObject({
      format: "proctor.export/v1",
      submissions: [{ submission_id: id }],
    });
    expect((await admin("export", "--format", "xml")).stderr).toMatch(/'xml' is invalid.*csv, json/s);
  });
});
