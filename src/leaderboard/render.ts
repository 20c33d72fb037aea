/** Standings from entries, ranked once and rendered in one of the three formats. */
import type { LeaderboardEntry } from "./entry.js";
import { rankEntries, type RankingMode } from "./ranking.js";
import type { RenderOptions } from "./render-common.js";
import { renderHtml } from "./render-html.js";
import { renderJson } from "./render-json.js";
import { renderMarkdown } from "./render-markdown.js";
import type { LeaderboardRules } from "./rules.js";

export const RENDER_FORMATS = ["markdown", "json", "html"] as const;
export type RenderFormat = (typeof RENDER_FORMATS)[number];

/**
 * Ranks `entries` under `rules` and renders the standings. Mode "private" (after `reveal`) ranks by
 * private scores and publishes them: it is the only way `includePrivate` is set.
 */
export function renderStandings(
  entries: readonly LeaderboardEntry[],
  rules: LeaderboardRules,
  options: Omit<RenderOptions, "includePrivate"> & { format: RenderFormat; mode?: RankingMode },
): string {
  const mode = options.mode ?? "public";
  const standings = rankEntries(entries, rules, { mode });
  const renderOptions: RenderOptions = {
    competition: options.competition,
    ...(options.generatedAt !== undefined && { generatedAt: options.generatedAt }),
    ...(options.phase !== undefined && { phase: options.phase }),
    ...(options.imageRecordUrl !== undefined && { imageRecordUrl: options.imageRecordUrl }),
    ...(options.modelsRecordUrl !== undefined && { modelsRecordUrl: options.modelsRecordUrl }),
    includePrivate: mode === "private",
  };
  if (options.format === "json") return renderJson(standings, renderOptions);
  if (options.format === "html") return renderHtml(standings, renderOptions);
  return renderMarkdown(standings, renderOptions);
}
