/**
 * The end of a competition on the gateway's own record (real SQLite, the real HTTP edge, a fake clock):
 * the reveal opens the final phase's private scores with the organizer's key (practice entries and
 * disqualified ones never ranked), the gateway publishes the final ranking (JSON and page), and the
 * organizers' export lists every submission with its phase, attempts, scores and disqualification.
 */
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSealingKeys, RevealError, sealScore } from "../leaderboard/index.js";
import { readRevealed, revealFinal, RevealRefusedError, writeRevealed } from "../intake/index.js";
import { IntakeDb } from "../intake/index.js";
import {
  COMPETITION_YML,
  getJson,
  GOOD_ZIP,
  postResult,
  rawRequest,
  startHarness,
  SUCCEEDED,
  upload,
  type Harness,
} from "./test-support/harness.js";
import path from "node:path";

const YML = `${COMPETITION_YML}
timeline:
  start: 2025-03-01T00:00:00Z
  end: 2025-04-01T00:00:00Z
  phases:
    - { name: smoke_test, start: 2025-03-01T00:00:00Z }
    - { name: evaluation, start: 2025-03-10T00:00:00Z }
final_selection: { mode: best, count: 1 }
`;

const keys = generateSealingKeys();
let h: Harness;
let admin: string;
const ids: Record<string, string> = {};

/** One scored submission of `participant` at the clock's time, with its public and (sealed) private score. */
async function scored(name: string, participant: string, publicScore: number, privateScore: number) {
  const response = await upload(h, h.token(participant), await GOOD_ZIP());
  expect(response.status, response.text).toBe(202);
  const id = (response.json()["submission"] as { submission_id: string }).submission_id;
  const result = await postResult(h, id, h.runner, {
    ...SUCCEEDED,
    public_score: publicScore,
    private_score_sealed: sealScore(privateScore, id, keys.publicKeyPem),
  });
  expect(result.status, result.text).toBe(200);
  ids[name] = id;
}

const db = () => new IntakeDb(path.join(h.dataDir, "intake.sqlite"));

function reveal(now: string, force = false) {
  const opened = db();
  try {
    return revealFinal({
      db: opened,
      competition: h.competition,
      privateKeyPem: keys.privateKeyPem,
      now: new Date(now),
      force,
    });
  } finally {
    opened.close();
  }
}

const adminGet = (route: string, token = admin) =>
  rawRequest(h.url, { path: route, headers: { authorization: `Bearer ${token}` } });

beforeAll(async () => {
  h = await startHarness({}, YML);
  admin = h.gateway.intake.admins.add("orga").token;
  h.clock.now = new Date("2025-03-02T12:00:00Z");
  // Practice: the best private score of all, on the public sample; it must never be ranked at the reveal.
  await scored("practice", "alice", 0.99, 0.99);
  h.clock.now = new Date("2025-03-12T12:00:00Z");
  await scored("aliceBest", "alice", 0.8, 0.6);
  await scored("aliceOther", "alice", 0.7, 0.9);
  await scored("bob", "bob", 0.75, 0.7);
  await scored("mallory", "mallory", 0.95, 0.95);
  await scored("carol", "carol", 0.9, 0.92);
  h.gateway.intake.organizer.disqualifyParticipant("mallory", "second account");
  h.gateway.intake.organizer.disqualify(ids["carol"]!, '=HYPERLINK("http://x") hand-labelled');
});
afterAll(() => h.close());

describe("the reveal", () => {
  it("is refused before the timeline's end, unless forced", () => {
    expect(() => reveal("2025-03-20T00:00:00Z")).toThrow(RevealRefusedError);
    expect(() => reveal("2025-03-20T00:00:00Z")).toThrow(/ends at 2025-04-01T00:00:00.000Z.*--force/);
    expect(reveal("2025-03-20T00:00:00Z", true).entries.length).toBeGreaterThan(0);
  });

  it("fails whole, naming the problem, with a key that does not open the scores", () => {
    const opened = db();
    try {
      expect(() =>
        revealFinal({
          db: opened,
          competition: h.competition,
          privateKeyPem: generateSealingKeys().privateKeyPem,
          now: new Date("2025-04-02T00:00:00Z"),
        }),
      ).toThrow(RevealError);
    } finally {
      opened.close();
    }
  });

  it("is not published before it is made: 404 for the JSON and the page, no link on the public page", async () => {
    const json = await getJson(h, "/v1/leaderboard?board=private");
    expect(json.status).toBe(404);
    expect(json.json()).toMatchObject({ error: "not_revealed" });
    const page = await getJson(h, "/leaderboard?board=private");
    expect(page.status).toBe(404);
    expect(page.text).toContain("Not revealed yet");
    expect((await getJson(h, "/leaderboard")).text).not.toContain("board=private");
    expect((await getJson(h, "/v1/leaderboard?board=secret")).status).toBe(400);
  });

  it("ranks the final phase's selected entries by private score, without practice or disqualified entries", async () => {
    const board = reveal("2025-04-02T00:00:00Z");
    expect(board.phase).toBe("evaluation");
    expect(board.entries.map((e) => e.submissionId)).not.toContain(ids["practice"]);
    expect(board.entries.map((e) => e.participant).sort()).toEqual(["alice", "alice", "bob"]);
    // Only the selected entry (alice's best by public score) keeps its private score.
    const privateOf = (name: string) => board.entries.find((e) => e.submissionId === ids[name])?.privateScore;
    expect(privateOf("aliceBest")).toBe(0.6);
    expect(privateOf("aliceOther")).toBeNull();
    expect(board.entries.every((e) => e.sealedPrivateScore === null)).toBe(true);
    writeRevealed(h.dataDir, board);

    const json = await getJson(h, "/v1/leaderboard?board=private");
    expect(json.status, json.text).toBe(200);
    const body = json.json() as {
      mode: string;
      phase: string;
      rows: { rank: number | null; participant: string; privateScore: number }[];
    };
    expect(body.mode).toBe("private");
    expect(body.phase).toBe("evaluation");
    expect(
      body.rows.filter((r) => r.rank !== null).map((r) => [r.rank, r.participant, r.privateScore]),
    ).toEqual([
      [1, "bob", 0.7],
      [2, "alice", 0.6],
    ]);
    expect(json.text).not.toMatch(/mallory|carol/);
    const page = await getJson(h, "/leaderboard?board=private");
    expect(page.status).toBe(200);
    expect(page.text).toContain("Final ranking");
    expect(page.text).not.toMatch(/mallory|carol/);
    expect((await getJson(h, "/leaderboard")).text).toContain('href="/leaderboard?board=private"');
    // The public board keeps public scores only.
    expect((await getJson(h, "/v1/leaderboard")).text).not.toContain("privateScore");
  });

  it("drops an entry disqualified after the reveal from the published ranking", async () => {
    h.gateway.intake.organizer.disqualify(ids["bob"]!, "found later");
    const rows = (
      (await getJson(h, "/v1/leaderboard?board=private")).json()["rows"] as { participant: string }[]
    ).map((r) => r.participant);
    expect(rows).toEqual(["alice"]);
    h.gateway.intake.organizer.disqualify(ids["bob"]!, null);
  });

  it("refuses a damaged board file with the file named and the fix", async () => {
    const { writeFile } = await import("node:fs/promises");
    const file = path.join(h.dataDir, "private-leaderboard.json");
    const good = readRevealed(h.dataDir)!;
    await writeFile(file, JSON.stringify({ ...good, format: "other" }));
    expect(() => readRevealed(h.dataDir)).toThrow(/private-leaderboard\.json: format .*proctor admin reveal/);
    writeRevealed(h.dataDir, good);
  });
});

describe("the organizers' export", () => {
  it("needs an admin token: none, a participant's, or a made-up one is 401", async () => {
    expect((await getJson(h, "/v1/admin/export")).status).toBe(401);
    expect((await adminGet("/v1/admin/export", h.token("nosy"))).status).toBe(401);
    expect((await adminGet("/v1/admin/export", "pad_made_up")).status).toBe(401);
    const bad = await adminGet("/v1/admin/export?format=xlsx");
    expect(bad.status).toBe(400);
    expect(bad.json()["message"]).toMatch(/format/);
  });

  it("lists every submission as JSON: phase, attempts, scores (private only where revealed), disqualifications", async () => {
    const answer = await adminGet("/v1/admin/export?format=json");
    expect(answer.status, answer.text).toBe(200);
    expect(answer.headers["cache-control"]).toBe("no-store");
    const document = answer.json() as {
      revealed_at: string;
      submissions: Record<string, unknown>[];
    };
    expect(document.revealed_at).toBe("2025-04-02T00:00:00.000Z");
    const row = (name: string) => document.submissions.find((s) => s["submission_id"] === ids[name])!;
    expect(document.submissions).toHaveLength(6);
    expect(row("practice")).toMatchObject({ phase: "smoke_test", public_score: 0.99, private_score: null });
    expect(row("aliceBest")).toMatchObject({ phase: "evaluation", private_score: 0.6, disqualified: null });
    expect(row("aliceOther")).toMatchObject({ private_score: null });
    expect(row("mallory")).toMatchObject({
      disqualified: "participant: second account",
      private_score: null,
    });
    expect(row("carol")["disqualified"]).toMatch(/hand-labelled/);
    expect(row("bob")["attempts"]).toEqual([
      expect.objectContaining({ attempt: 1, status: "succeeded", public_score: 0.75 }),
    ]);
    expect(answer.text).not.toContain("sealed");
    expect(Object.keys(row("bob"))).toEqual(
      expect.arrayContaining(["image_digest", "models_digest", "scorer_digest", "ground_truth_digest"]),
    );
  });

  it("gives the same as CSV, with formula-like text made inert", async () => {
    const answer = await adminGet("/v1/admin/export?format=csv");
    expect(answer.status).toBe(200);
    expect(answer.headers["content-type"]).toMatch(/^text\/csv/);
    expect(answer.headers["content-disposition"]).toMatch(
      /attachment; filename="submissions-\d{4}-\d{2}-\d{2}\.csv"/,
    );
    const rows = parse(answer.text, { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(6);
    const carol = rows.find((r) => r["submission_id"] === ids["carol"])!;
    expect(carol["disqualified"]!.startsWith("'=HYPERLINK")).toBe(true);
    const alice = rows.find((r) => r["submission_id"] === ids["aliceBest"])!;
    expect(alice).toMatchObject({
      phase: "evaluation",
      public_score: "0.8",
      private_score: "0.6",
      attempt_statuses: "1:succeeded",
    });
  });
});
