import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadCompetition } from "../config/index.js";
import { parseRules, rankEntries } from "../leaderboard/index.js";
import { makeEntry, makeFailed } from "../leaderboard/test-support/entries.js";
import {
  defaultBoardPhase,
  finalEntries,
  finalPhase,
  finalSelectionSchema,
  phaseAt,
  resolveLifecycle,
  selectFinal,
  timelineSchema,
  uploadWindow,
} from "./lifecycle.js";

const at = (iso: string) => new Date(iso);

const lifecycle = () =>
  resolveLifecycle({
    description: "About",
    timeline: timelineSchema.parse({
      start: "2025-03-01T00:00:00Z",
      end: "2025-04-01T00:00:00Z",
      phases: [
        { name: "smoke_test", start: "2025-03-01T00:00:00Z", logs: "full", daily_limit: 20 },
        { name: "evaluation", start: "2025-03-10T00:00:00Z", total_limit: null },
      ],
    }),
    final_selection: finalSelectionSchema.parse({ mode: "chosen", count: 2 }),
    max_active_runs: 1,
  });

describe("timeline", () => {
  it("finds the phase in effect: each runs to the next one's start, the last to the end", () => {
    const l = lifecycle();
    expect(phaseAt(l, at("2025-02-28T23:59:59Z"))).toBeUndefined();
    expect(phaseAt(l, at("2025-03-01T00:00:00Z"))).toMatchObject({
      name: "smoke_test",
      title: "Smoke test (public sample)",
      end: at("2025-03-10T00:00:00Z"),
      logs: "full",
      dailyLimit: 20,
    });
    expect(phaseAt(l, at("2025-03-10T00:00:00Z"))).toMatchObject({ name: "evaluation", totalLimit: null });
    expect(phaseAt(l, at("2025-04-01T00:00:00Z"))).toBeUndefined();
  });

  it("opens uploads only between start and end, and says why and when otherwise", () => {
    const l = lifecycle();
    const before = uploadWindow(l, at("2025-02-01T00:00:00Z"));
    expect(before).toMatchObject({ open: false, opensAt: at("2025-03-01T00:00:00Z") });
    expect(before.open === false && before.reason).toMatch(
      /^submissions open at 2025-03-01T00:00:00.000Z; it is now 2025-02-01/,
    );
    expect(uploadWindow(l, at("2025-03-05T00:00:00Z"))).toEqual({ open: true });
    const after = uploadWindow(l, at("2025-04-01T00:00:00Z"));
    expect(after.open === false && after.reason).toBe(
      "submissions closed at 2025-04-01T00:00:00.000Z; the competition takes no more entries",
    );
    // Participants read these: no key of the organizer's competition.yml in them.
    expect(before.open === false && before.reason).not.toMatch(/competition\.yml|timeline\./);
    expect(uploadWindow(resolveLifecycle({}), at("1999-01-01T00:00:00Z"))).toEqual({ open: true });
  });

  it("refuses dates without a time zone, an end before the start, and phases out of order", () => {
    const refused = (input: unknown) => {
      const result = timelineSchema.safeParse(input);
      return result.success ? [] : result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    };
    expect(refused({ start: "2025-03-01" })[0]).toMatch(
      /^start: "2025-03-01" is not a date with a time zone/,
    );
    expect(refused({ start: "2025-03-02T00:00:00Z", end: "2025-03-01T00:00:00Z" })).toEqual([
      "end: must be after timeline.start",
    ]);
    expect(
      refused({
        phases: [
          { name: "evaluation", start: "2025-03-10T00:00:00Z" },
          { name: "smoke_test", start: "2025-03-01T00:00:00Z" },
        ],
      }),
    ).toEqual([
      "phases.1.start: must be after the start of the phase before (evaluation): list phases in order",
    ]);
    expect(refused({ phases: [{ name: "final round", start: "2025-03-01T00:00:00Z" }] })[0]).toMatch(
      /^phases\.0\.name/,
    );
  });

  it("defaults: no dates, no phases, best single entry, no cap on runs under way", () => {
    expect(resolveLifecycle({})).toEqual({
      description: "",
      start: null,
      end: null,
      phases: [],
      finalSelection: { mode: "best", count: 1 },
      maxActiveRuns: null,
    });
  });
});

describe("phases", () => {
  const phases = (list: Record<string, unknown>[]) =>
    resolveLifecycle({ timeline: timelineSchema.parse({ end: "2025-05-01T00:00:00Z", phases: list }) });

  it("take free names with a title made from the name, and know their data: public sample or hidden", () => {
    const l = phases([
      { name: "warm-up", start: "2025-03-01T00:00:00Z", data: "public_sample" },
      { name: "smoke_test", start: "2025-03-05T00:00:00Z" },
      {
        name: "main_round",
        start: "2025-03-10T00:00:00Z",
        max_active_runs: 2,
        limits: { time: "30m", cpus: 4 },
      },
      { name: "evaluation", start: "2025-03-20T00:00:00Z", title: "The last word" },
    ]);
    expect(l.phases.map((p) => [p.name, p.title, p.data])).toEqual([
      ["warm-up", "Warm up", "public_sample"],
      ["smoke_test", "Smoke test (public sample)", "public_sample"],
      ["main_round", "Main round", "hidden"],
      ["evaluation", "The last word", "hidden"],
    ]);
    expect(l.phases[2]).toMatchObject({ maxActiveRuns: 2, limits: { timeLimitMs: 1_800_000, cpus: 4 } });
    expect(l.phases[0]!.limits).toBeUndefined();
  });

  it("have exactly one final phase: the one marked final, else the last", () => {
    const marked = phases([
      { name: "main", start: "2025-03-01T00:00:00Z", final: true },
      { name: "extra-practice", start: "2025-04-01T00:00:00Z" },
    ]);
    expect(finalPhase(marked)?.name).toBe("main");
    expect(marked.phases.map((p) => p.final)).toEqual([true, false]);
    const last = phases([
      { name: "practice", start: "2025-03-01T00:00:00Z" },
      { name: "main", start: "2025-03-10T00:00:00Z" },
    ]);
    expect(finalPhase(last)?.name).toBe("main");
    expect(finalPhase(resolveLifecycle({}))).toBeUndefined();
  });

  it("refuses a bad name, a name used twice and two final phases, naming each", () => {
    const issues = (list: Record<string, unknown>[]) =>
      timelineSchema
        .safeParse({ phases: list })
        .error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    expect(issues([{ name: "Main Round", start: "2025-03-01T00:00:00Z" }])).toEqual([
      "phases.0.name: must be lowercase letters, digits, _ or -, starting with a letter (at most 40)",
    ]);
    expect(
      issues([
        { name: "main", start: "2025-03-01T00:00:00Z" },
        { name: "main", start: "2025-03-10T00:00:00Z" },
      ]),
    ).toEqual(["phases.1.name: main is the name of phase 1 too: give each phase its own name"]);
    expect(
      issues([
        { name: "a", start: "2025-03-01T00:00:00Z", final: true },
        { name: "b", start: "2025-03-10T00:00:00Z", final: true },
      ]),
    ).toEqual(["phases: only one phase can be final, but a and b say final: true"]);
  });

  it("show by default the current phase's board; between phases and after the end the last begun; before, the first", () => {
    const l = lifecycle();
    expect(defaultBoardPhase(l, at("2025-02-01T00:00:00Z"))?.name).toBe("smoke_test");
    expect(defaultBoardPhase(l, at("2025-03-02T00:00:00Z"))?.name).toBe("smoke_test");
    expect(defaultBoardPhase(l, at("2025-03-12T00:00:00Z"))?.name).toBe("evaluation");
    expect(defaultBoardPhase(l, at("2025-06-01T00:00:00Z"))?.name).toBe("evaluation");
    expect(defaultBoardPhase(resolveLifecycle({}), at("2025-06-01T00:00:00Z"))).toBeUndefined();
  });
});

describe("final selection", () => {
  const e = (participant: string, id: string, score: number | null, day: number, chosen = false) => ({
    participant,
    submissionId: id,
    score,
    submittedAt: `2025-03-0${day}T00:00:00Z`,
    chosen,
  });

  it("best: each participant's N best by public score, earlier first on ties; unscored never", () => {
    const entries = [
      e("a", "a1", 0.5, 1),
      e("a", "a2", 0.9, 2),
      e("a", "a3", 0.9, 1),
      e("a", "a4", null, 3),
      e("b", "b1", 0.1, 1),
    ];
    const ids = (
      rule: { mode: "best" | "chosen"; count: number },
      direction: "higher" | "lower" = "higher",
    ) => selectFinal(entries, rule, direction).map((x) => x.submissionId);
    expect(ids({ mode: "best", count: 2 })).toEqual(["a3", "a2", "b1"]);
    expect(ids({ mode: "best", count: 1 }, "lower")).toEqual(["a1", "b1"]);
  });

  it("chosen: the picks (at most N), or the best N for a participant who picked none", () => {
    const entries = [
      e("a", "a1", 0.5, 1, true),
      e("a", "a2", 0.9, 2),
      e("b", "b1", 0.1, 1),
      e("b", "b2", 0.2, 2),
    ];
    expect(selectFinal(entries, { mode: "chosen", count: 1 }, "higher").map((x) => x.submissionId)).toEqual([
      "a1",
      "b2",
    ]);
  });

  it("leaves the private ranking one entry per participant: the best private score of their selection", () => {
    const revealed = [
      { ...makeEntry({ participant: "a", publicScore: 0.9, submissionId: "a1" }), privateScore: 0.2 },
      { ...makeEntry({ participant: "a", publicScore: 0.8, submissionId: "a2" }), privateScore: 0.7 },
      { ...makeEntry({ participant: "a", publicScore: 0.1, submissionId: "a3" }), privateScore: 0.99 },
      makeFailed({ participant: "c", submissionId: "c1" }),
    ];
    const scored = (entries: ReturnType<typeof finalEntries>) =>
      entries
        .filter((x) => x.publicScore !== null)
        .map((x) => [x.submissionId, x.publicScore, x.privateScore]);
    const best = finalEntries(revealed, { mode: "best", count: 2 }, "higher");
    expect(best).toHaveLength(4); // every entry still counts
    expect(scored(best)).toEqual([["a2", 0.8, 0.7]]); // a3's 0.99 was not among the 2 selected
    const picked = finalEntries(revealed, { mode: "chosen", count: 2 }, "higher", new Set(["a3"]));
    expect(scored(picked)).toEqual([["a3", 0.1, 0.99]]);
    const ranked = rankEntries(best, parseRules({ direction: "higher", precision: 2, selection: "latest" }), {
      mode: "private",
    });
    expect(ranked.rows[0]).toMatchObject({
      participant: "a",
      submissionId: "a2",
      publicScore: 0.8,
      score: 0.7,
    });
  });
});

describe("in competition.yml", () => {
  const BASE = `name: T
runtime: { image: proctor/runtime }
paths: { data_dir: data, ground_truth: gt.csv, submission_format: format.yml }
scoring: { metric: accuracy, direction: higher }
`;
  async function load(extra: string) {
    const dir = await mkdtemp(path.join(os.tmpdir(), "proctor-lifecycle-"));
    try {
      await writeFile(path.join(dir, "competition.yml"), BASE + extra);
      return await loadCompetition(path.join(dir, "competition.yml"));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  it("loads the lifecycle keys", async () => {
    const c = await load(
      "description: Hello\ntimeline: { start: 2025-03-01T00:00:00Z, phases: [{ name: evaluation, start: 2025-03-01T00:00:00Z }] }\n" +
        "final_selection: { mode: chosen, count: 3 }\nmax_active_runs: 2\n",
    );
    expect(c.lifecycle).toMatchObject({
      description: "Hello",
      start: new Date("2025-03-01T00:00:00Z"),
      phases: [{ name: "evaluation", end: null }],
      finalSelection: { mode: "chosen", count: 3 },
      maxActiveRuns: 2,
    });
  });

  it("names the line, the key and the rule of a mistake", async () => {
    const error = await load(
      "timeline:\n  start: 2025-03-01\nfinal_selection: { mode: all }\nmax_active_runs: 0\n",
    ).catch((e: unknown) => e as Error);
    expect(String(error)).toMatch(
      /competition\.yml:6:3: timeline\.start "2025-03-01" is not a date with a time zone/,
    );
    expect(String(error)).toMatch(
      /competition\.yml:7:\d+: final_selection\.mode must be one of "best", "chosen"/,
    );
    expect(String(error)).toMatch(/competition\.yml:8:\d+: max_active_runs must be/);
  });
});
