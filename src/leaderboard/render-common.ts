/** What the three renderers (Markdown, JSON, HTML) share. */
import type { Standings } from "./ranking.js";

export interface RenderOptions {
  /** Competition name, shown in titles. */
  competition: string;
  /** When the leaderboard was generated (default: now). */
  generatedAt?: Date;
  /** The competition phase whose entries these are (timeline.phases[].name); absent: the competition has none. */
  phase?: string;
  /**
   * Must be true to render standings ranked by private scores (mode "private", after reveal): private
   * scores are published only when revealed *and* asked for.
   */
  includePrivate?: boolean;
  /**
   * Where the record of published runtime images is (runtime/published.json on the repository, e.g.
   * https://github.com/org/comp/blob/main/runtime/published.json): each row's image digest links to it, so
   * anyone can look up the lock and SBOM a score was made with. https only.
   */
  imageRecordUrl?: string;
  /**
   * Where the models a run had at /code_execution/models are recorded (runtime/published.json on the
   * repository: each published runtime names the models image published with it, by the digest a row
   * carries): each row's models digest links to it. https only.
   */
  modelsRecordUrl?: string;
}

/** The URL when it is an https URL, else null (never a javascript: or relative link). */
const httpsOnly = (url: string | undefined): string | null =>
  url !== undefined && /^https:\/\/[^\s"'<>`]+$/.test(url) ? url : null;

/** Where a row's image digest and models digest link to (null: shown without a link). */
export function recordUrls(options: RenderOptions): { image: string | null; models: string | null } {
  return { image: httpsOnly(options.imageRecordUrl), models: httpsOnly(options.modelsRecordUrl) };
}

export class RenderError extends Error {
  override name = "RenderError";
}

export function assertPublishable(standings: Standings, options: RenderOptions): void {
  if (standings.mode === "private" && options.includePrivate !== true) {
    throw new RenderError(
      "these standings are ranked by revealed private scores; pass includePrivate: true to publish them",
    );
  }
}

/** "2025-03-01 14:05 UTC" */
export function formatUtc(iso: string): string {
  const d = new Date(iso);
  return `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

export function scoreHeading(standings: Standings): string {
  const which = standings.rules.selection === "best" ? "Best" : "Latest";
  return standings.mode === "private"
    ? `Private score (${which.toLowerCase()} public entry)`
    : `${which} score`;
}

/** One sentence describing how the board is ranked. */
export function describeRanking(standings: Standings): string {
  const { rules, mode } = standings;
  const better = rules.direction === "higher" ? "higher is better" : "lower is better";
  const selected =
    rules.selection === "best"
      ? "each participant's best public-scoring entry counts"
      : "each participant's latest scored entry counts";
  const scores = mode === "private" ? "Ranked by private score" : "Ranked by public score";
  return (
    `${scores} (${better}, compared at ${rules.precision} decimals); ${selected}; equal scores go to the ` +
    `earlier submission; equal ranks share a number (1, 2, 2, 4).`
  );
}
