import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadCompetition, type Competition } from "../../config/index.js";
import { landingPage, leaderboardPage, submitPage, type PageContext } from "./pages.js";

const context = (competition: Competition): PageContext => ({
  competition,
  now: new Date("2025-03-01T10:00:00Z"),
  viewer: undefined,
  csrf: "token",
});

describe("the pages name the score", () => {
  it("by the custom scorer's own name (examples/custom-scorer: RMSLE), never 'custom metric'", async () => {
    const competition = await loadCompetition(path.resolve("examples/custom-scorer/competition.yml"));
    const ctx = context(competition);
    const landing = landingPage(ctx).toString();
    const board = leaderboardPage(
      ctx,
      { mode: "public", rules: competition.leaderboard, rows: [] },
      { active: 0, revealed: false },
    ).toString();
    expect(landing).toContain("Metric: <strong>RMSLE</strong> (lower is better)");
    expect(board).toContain("Score (RMSLE)");
    expect(landing + board).not.toContain("custom metric");
  });

  it("escapes the name like every other value", async () => {
    const competition = await loadCompetition(path.resolve("examples/custom-scorer/competition.yml"));
    const metric = competition.scoring.metric;
    if (typeof metric === "string") throw new Error("the example has a custom scorer");
    const named = {
      ...competition,
      scoring: { ...competition.scoring, metric: { custom: { ...metric.custom, name: "<i>R²</i>" } } },
    };
    expect(landingPage(context(named)).toString()).toContain(
      "Metric: <strong>&lt;i&gt;R²&lt;/i&gt;</strong>",
    );
  });
});

describe("the submit page", () => {
  const quota = {
    used_today: 0,
    daily_limit: null,
    remaining_today: null,
    used_total: 0,
    total_limit: null,
    remaining_total: null,
    resets_at: null,
  };
  it("offers an optional model tarball after the image (the order the gateway reads the parts in)", async () => {
    const competition = await loadCompetition(path.resolve("examples/per-case/competition.yml"));
    const page = submitPage(context(competition), quota, undefined).toString();
    const submission = page.indexOf('name="submission"');
    const model = page.indexOf('name="model"');
    expect(submission).toBeGreaterThan(0);
    expect(model).toBeGreaterThan(submission);
    expect(page.slice(model - 200, model + 200)).not.toContain("required");
    expect(page).toContain("Model tarball (model.tar.gz, optional)");
  });

  it("has no model field where the competition takes zips", async () => {
    const competition = await loadCompetition(path.resolve("competition.yml"));
    expect(submitPage(context(competition), quota, undefined).toString()).not.toContain('name="model"');
  });
});
