/**
 * Phases are first-class, through the gateway on real parts (SQLite, the HTTP edge, a fake clock): free
 * names, each phase its own quota and leaderboard, only the final phase's entries picked for the final
 * ranking, the pages naming the current phase's limits and what comes next, and the runners told the phase.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { statusCommand } from "../cli/status-command.js";
import { cli } from "../cli/test-support/cli.js";
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

// The harness's leaderboard: daily_limit 3, total_limit 10.
const YML = `${COMPETITION_YML}
timeline:
  start: 2025-03-01T00:00:00Z
  end: 2025-04-01T00:00:00Z
  phases:
    - { name: warm-up, start: 2025-03-01T00:00:00Z, data: public_sample, daily_limit: 2 }
    - { name: main_round, title: The main round, start: 2025-03-10T00:00:00Z, limits: { time: 5m } }
final_selection: { mode: chosen, count: 1 }
`;

let h: Harness;
let token: string;
const ids: Record<string, string> = {};
beforeAll(async () => {
  h = await startHarness({}, YML);
  token = h.token("ada");
  h.clock.now = new Date("2025-03-02T12:00:00Z");
  ids["practice1"] = await scored(0.99);
  ids["practice2"] = await scored(0.5);
});
afterAll(() => h.close());

async function scored(score: number, who = token): Promise<string> {
  const response = await upload(h, who, await GOOD_ZIP());
  expect(response.status, response.text).toBe(202);
  const id = (response.json()["submission"] as { submission_id: string }).submission_id;
  expect((await postResult(h, id, h.runner, { ...SUCCEEDED, public_score: score })).status).toBe(200);
  return id;
}

const board = async (query = "") => {
  const answer = await getJson(h, `/v1/leaderboard${query}`);
  expect(answer.status, answer.text).toBe(200);
  return answer.json() as { phase: string | null; rows: { participant: string; score: number }[] };
};

describe("each phase has its own quota", () => {
  it("practice uses up the practice phase's limit only, never the main round's", async () => {
    const refused = await upload(h, token, await GOOD_ZIP());
    expect(refused.status).toBe(429);
    expect(refused.json()).toMatchObject({ quota: { daily_limit: 2, used_today: 2 } });
    h.clock.now = new Date("2025-03-10T00:30:00Z"); // the same UTC day would not matter: another phase
    const quota = (await getJson(h, "/v1/submissions", token)).json()["quota"];
    expect(quota).toMatchObject({ daily_limit: 3, used_today: 0, used_total: 0 });
    ids["main1"] = await scored(0.7);
    ids["main2"] = await scored(0.6);
  });
});

describe("each phase has its own leaderboard", () => {
  it("shows the current phase by default, any phase by ?phase=, and names it", async () => {
    const main = await board();
    expect(main.phase).toBe("main_round");
    expect(main.rows).toEqual([expect.objectContaining({ participant: "ada", score: 0.7 })]);
    const practice = await board("?phase=warm-up");
    expect(practice.phase).toBe("warm-up");
    expect(practice.rows).toEqual([expect.objectContaining({ participant: "ada", score: 0.99 })]);
  });

  it("refuses a phase the competition does not have, naming its phases", async () => {
    const unknown = await getJson(h, "/v1/leaderboard?phase=final");
    expect(unknown.status).toBe(404);
    expect(unknown.json()).toMatchObject({ error: "unknown_phase" });
    expect(String(unknown.json()["message"])).toContain("its phases are warm-up, main_round");
    expect((await getJson(h, "/leaderboard?phase=%3Cscript%3E")).text).not.toContain("<script>");
  });

  it("on the page: the phase's title, and links to the other phases' boards", async () => {
    const page = await getJson(h, "/leaderboard?phase=warm-up");
    expect(page.status).toBe(200);
    expect(page.text).toContain(
      "Phase: <strong>Warm up</strong> (its entries never count in the final ranking)",
    );
    expect(page.text).toContain('href="/leaderboard?phase=main_round"');
    expect(page.text).toContain("0.99");
    const main = await getJson(h, "/leaderboard");
    expect(main.text).toContain("Phase: <strong>The main round</strong> (final)");
    expect(main.text).not.toContain("0.99");
  });
});

describe("the final ranking takes the final phase's entries only", () => {
  it("refuses to pick a practice entry, naming the phases; a main-round entry can be picked", async () => {
    const post = (id: string) =>
      rawRequest(h.url, {
        method: "POST",
        path: `/v1/submissions/${id}/choice`,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: Buffer.from(JSON.stringify({ chosen: true })),
      });
    const practice = await post(ids["practice1"]!);
    expect(practice.status).toBe(409);
    expect(String(practice.json()["message"])).toMatch(
      /made in phase warm-up; only entries of the final phase \(The main round\)/,
    );
    expect((await post(ids["main2"]!)).status).toBe(200);
  });
});

describe("the pages and the runners know the phase", () => {
  it("the landing page shows the current phase's limits and what comes next", async () => {
    h.clock.now = new Date("2025-03-05T00:00:00Z");
    const landing = (await getJson(h, "/")).text;
    expect(landing).toContain("Submissions in this phase (Warm up): 2 per day (UTC), 10 in all");
    expect(landing).toContain("Next: The main round from");
    expect(landing).toContain("(3 per day (UTC), 10 in all)");
    expect(landing).toContain("The main round (final: its entries decide the final ranking)");
    expect(landing).toContain("Each run: 2.0s wall clock"); // the harness's limits.time in the warm-up
    h.clock.now = new Date("2025-03-12T00:00:00Z");
    expect((await getJson(h, "/")).text).toContain("Each run: 5m0s wall clock");
    // A run of the main round is given up on only after its own, longer, time limit.
    expect(h.gateway.intake.stuckAfterMs).toBeGreaterThanOrEqual(5 * 60_000);
    h.clock.now = new Date("2025-03-12T00:00:00Z");
  });

  it("proctor status names each submission's phase, the current phase (its quota) and what comes next", async () => {
    h.clock.now = new Date("2025-03-05T00:00:00Z");
    const list = (await getJson(h, "/v1/submissions", token)).json();
    expect(list["phase"]).toEqual({
      current: { name: "warm-up", title: "Warm up", final: false, ends_at: "2025-03-10T00:00:00.000Z" },
      next: { name: "main_round", title: "The main round", starts_at: "2025-03-10T00:00:00.000Z" },
    });
    const status = await cli(statusCommand(), ["--server", h.url, "--token", token]);
    expect(status.stdout).toContain(
      `${ids["practice1"]}  2025-03-02T12:00:00.000Z  succeeded 0.9900  [warm-up]`,
    );
    expect(status.stdout).toContain(
      "phase: Warm up (its entries never count in the final ranking), until 2025-03-10T00:00:00.000Z; " +
        "next: The main round from 2025-03-10T00:00:00.000Z, with limits of its own",
    );
    h.clock.now = new Date("2025-03-12T00:00:00Z");
    const final = await cli(statusCommand(), ["--server", h.url, "--token", token]);
    expect(final.stdout).toContain(
      "phase: The main round (final: its entries decide the final ranking), until 2025-04-01",
    );
  });

  it("a runner reads the submission's phase by its name from the gateway", async () => {
    const view = await rawRequest(h.url, {
      path: `/v1/runner/submissions/${ids["practice1"]}`,
      headers: { authorization: `Bearer ${h.runner}` },
    });
    expect(view.json()).toMatchObject({ phase: "warm-up" });
  });
});
