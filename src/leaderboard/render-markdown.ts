/** The leaderboard as a Markdown table (for a README section, a PR/issue comment, a job summary). */
import { escapeMarkdown } from "./escape.js";
import type { Standings } from "./ranking.js";
import {
  assertPublishable,
  describeRanking,
  formatUtc,
  scoreHeading,
  type RenderOptions,
} from "./render-common.js";

export function renderMarkdown(standings: Standings, options: RenderOptions): string {
  assertPublishable(standings, options);
  const generatedAt = (options.generatedAt ?? new Date()).toISOString();
  const lines = [
    `## ${escapeMarkdown(options.competition)} — ${standings.mode === "private" ? "private" : "public"} leaderboard${options.phase ? ` (phase ${escapeMarkdown(options.phase)})` : ""}`,
    "",
    `| Rank | Participant | ${scoreHeading(standings)} | Entries | Last submission |`,
    "| ---: | :--- | ---: | ---: | :--- |",
  ];
  for (const row of standings.rows) {
    lines.push(
      `| ${row.rank ?? "—"} | ${escapeMarkdown(row.participant)} | ${row.rank === null ? "no score" : row.scoreText} | ` +
        `${row.entries} | ${formatUtc(row.lastSubmittedAt)} |`,
    );
  }
  if (standings.rows.length === 0) lines.push("| — | no submissions yet | | | |");
  lines.push("", `_${describeRanking(standings)} Generated ${formatUtc(generatedAt)}._`, "");
  return lines.join("\n");
}
