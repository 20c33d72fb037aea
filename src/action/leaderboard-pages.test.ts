import { describe, expect, it } from "vitest";
import { loadCompetition } from "../config/index.js";
import { competitionFiles, MINIMAL_COMPETITION } from "../config/test-support/competition-files.js";
import { serializeEntries } from "../github/index.js";
import { validateEntry } from "../leaderboard/index.js";
import { makeEntry } from "../leaderboard/test-support/entries.js";
import { leaderboardPages } from "./run-submission.js";

const files = competitionFiles("proctor-branch-pages-");

describe("the leaderboard branch's pages", () => {
  const entries = [
    makeEntry({
      submissionId: "p1",
      participant: "pat",
      publicScore: 0.99,
      phase: "warm-up",
      submittedAt: "2025-03-02T00:00:00.000Z",
    }),
    makeEntry({
      submissionId: "m1",
      participant: "max",
      publicScore: 0.7,
      phase: "main",
      submittedAt: "2025-03-12T00:00:00.000Z",
    }),
  ];

  it("give each phase its own board, and show the newest entry's phase first: practice never shares the final board", async () => {
    const competition = await loadCompetition(await files.write(MINIMAL_COMPETITION));
    const pages = leaderboardPages(competition)(entries);
    expect(Object.keys(pages).sort()).toEqual([
      "README.md",
      "index.html",
      "phases/main.md",
      "phases/warm-up.md",
    ]);
    expect(pages["README.md"]).toContain("public leaderboard (phase main)");
    expect(pages["README.md"]).toContain("max");
    expect(pages["README.md"]).not.toContain("pat");
    expect(pages["phases/warm-up.md"]).toContain("pat");
    expect(pages["phases/warm-up.md"]).not.toContain("max");
    expect(pages["index.html"]).toContain("leaderboard of phase main");
    // The same entries render the same pages: no empty commits.
    expect(leaderboardPages(competition)(entries)).toEqual(pages);
  });

  it("keep one board where entries name no phase (a competition without phases, or older entries)", async () => {
    const competition = await loadCompetition(await files.write(MINIMAL_COMPETITION));
    const pages = leaderboardPages(competition)(entries.map(({ phase: _phase, ...e }) => e));
    expect(Object.keys(pages).sort()).toEqual(["README.md", "index.html"]);
    expect(pages["README.md"]).toContain("pat");
  });

  it("keep an entry's phase in the branch file, and refuse a phase that is no name", () => {
    expect(serializeEntries([entries[0]!])).toContain('"phase": "warm-up"');
    expect(() => validateEntry({ ...entries[0], phase: "Warm Up!" })).toThrow(/phase: must be a phase name/);
  });
});
