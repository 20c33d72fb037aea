/**
 * `proctor admin rescore <id…>|--all [--phase p] [--dry-run]`: after a metric, scorer or ground-truth fix,
 * the kept predictions of each submission are scored again by the runners (which hold the hidden ground
 * truth) as scoring-only jobs (intake/rescore.ts); no program runs again. It waits for them, prints old and
 * new scores and how the ranks would move, and without --dry-run applies them in one transaction.
 */
import { Command } from "commander";
import { setTimeout as sleep } from "node:timers/promises";
import type { Competition } from "../config/index.js";
import type { Organizer, RankChange, RescoreResult, RescoreSkip } from "../intake/index.js";
import { formatScore } from "../leaderboard/index.js";
import { formatDuration } from "../units/index.js";
import { competitionFrom, CONFIG_OPTION } from "./context.js";
import { DATA_DIR_OPTION } from "./serve-command.js";
import { UsageError } from "./usage-error.js";

interface RescoreFlags {
  all: boolean;
  phase?: string;
  dryRun: boolean;
  wait: string;
  config: string;
  dataDir: string;
  json: boolean;
}

export interface RescoreReport {
  dry_run: boolean;
  jobs: RescoreResult[];
  skipped: RescoreSkip[];
  rank_changes: RankChange[];
  /** The submissions whose re-score now stands (none on a dry run). */
  applied: string[];
}

/** How often the records are read while the runners score. */
const POLL_MS = 500;

/**
 * Queues, waits for and (unless `dryRun`) applies the re-scores: the organizer's side of the whole thing,
 * on one Organizer (the gateway's records).
 */
export async function rescore(
  organizer: Organizer,
  competition: Competition,
  options: {
    ids: string[];
    phase?: string | undefined;
    dryRun: boolean;
    waitMs: number;
    /** Told once, when the runners are being waited for. */
    waiting?: (jobs: number) => void;
  },
): Promise<RescoreReport> {
  const { jobs, skipped } = organizer.rescores.queue({ ids: options.ids, phase: options.phase });
  if (jobs.length > 0) options.waiting?.(jobs.length);
  const deadline = Date.now() + options.waitMs;
  let results = organizer.rescores.results(jobs);
  while (results.some((r) => r.progress === "waiting") && Date.now() < deadline) {
    await sleep(POLL_MS);
    results = organizer.rescores.results(jobs);
  }
  const rankChanges = organizer.rescores.rankChanges(results, competition.leaderboard);
  const applied = options.dryRun ? [] : organizer.rescores.apply(results);
  return { dry_run: options.dryRun, jobs: results, skipped, rank_changes: rankChanges, applied };
}

/** The report for people: one line a submission, the rank changes, what was applied. */
export function describeRescore(report: RescoreReport, precision: number, waitMs: number): string {
  const score = (status: string | null, value: number | null) =>
    status === null ? "—" : value === null ? status : `${status} ${formatScore(value, precision)}`;
  const lines = report.jobs.map((r) => {
    const head = `${r.submission_id}  ${JSON.stringify(r.participant)}  ${score(r.old.status, r.old.public_score)}`;
    if (r.progress === "waiting")
      return (
        `${head} -> still waiting for a runner after ${formatDuration(waitMs)} (attempt ${r.attempt}; it stays ` +
        `queued and is not applied: re-score it again later, or \`proctor admin cancel ${r.submission_id}\`)`
      );
    if (r.progress === "superseded")
      return `${head} -> not re-scored: the submission was run or re-scored again meanwhile`;
    const after = score(r.new.status, r.new.public_score);
    const why = r.applicable
      ? ""
      : `  (never applied: ${r.new.reason ?? r.new.status}; the old result stands)`;
    return `${head} -> ${after}${why}`;
  });
  for (const s of report.skipped) lines.push(`${s.submission_id}  not re-scored: ${s.reason}`);
  if (report.jobs.length + report.skipped.length === 0) lines.push("nothing to re-score");
  const changes = report.rank_changes.map(
    (c) =>
      `${JSON.stringify(c.participant)} ${c.before ?? "unranked"} -> ${c.after ?? "unranked"}` +
      (c.phase === null ? "" : ` (${c.phase})`),
  );
  lines.push(changes.length === 0 ? "rank changes: none" : `rank changes: ${changes.join("; ")}`);
  const applicable = report.jobs.filter((r) => r.applicable).length;
  lines.push(
    report.dry_run
      ? `dry run: nothing applied (${applicable} re-score(s) could be; each is recorded on its own attempt, ` +
          `and the leaderboard is unchanged)`
      : `applied ${report.applied.length} re-score(s) in one transaction` +
          (report.applied.length < applicable ? ` (${applicable - report.applied.length} had moved on)` : ""),
  );
  return lines.join("\n");
}

export function addRescore(
  command: Command,
  withOrganizer: <T>(dataDir: string, use: (o: Organizer) => Promise<T>) => Promise<T>,
): void {
  command
    .command("rescore")
    .description(
      "after a metric, scorer or ground-truth fix: score the kept predictions again on the runners (no " +
        "program runs again), print old and new scores and the rank changes, and apply them",
    )
    .argument("[ids...]", "the submissions to re-score (or --all)")
    .option("--all", "every submission with a scored result (of --phase)", false)
    .option("--phase <phase>", "with --all: only this phase's submissions")
    .option("--dry-run", "show old and new scores and the rank changes; apply nothing", false)
    .option("--wait <seconds>", "how long to wait for the runners", "600")
    .option(...CONFIG_OPTION)
    .option(...DATA_DIR_OPTION)
    .option("--json", "print exactly one JSON object", false)
    .action(async (ids: string[], flags: RescoreFlags) => {
      if (ids.length > 0 === flags.all)
        throw new UsageError(
          "name the submissions to re-score, or pass --all for every scored one (not both): " +
            "`proctor admin rescore sub_… ` or `proctor admin rescore --all [--phase p]`",
        );
      if (flags.phase !== undefined && !flags.all)
        throw new UsageError(`--phase ${JSON.stringify(flags.phase)} goes with --all; leave it out with ids`);
      const waitSeconds = Number(flags.wait);
      if (!Number.isFinite(waitSeconds) || waitSeconds < 0)
        throw new UsageError(`--wait ${JSON.stringify(flags.wait)} must be a number of seconds, e.g. 600`);
      const competition = await competitionFrom(flags.config);
      const waitMs = waitSeconds * 1000;
      const report = await withOrganizer(flags.dataDir, (o) =>
        rescore(o, competition, {
          ids,
          phase: flags.phase,
          dryRun: flags.dryRun,
          waitMs,
          waiting: (n) =>
            process.stderr.write(
              `waiting up to ${formatDuration(waitMs)} for the runners to re-score ${n} submission(s): a ` +
                `gateway with pull runners that re-score (proctor serve --local-runners, proctor runner) ` +
                `must be running\n`,
            ),
        }),
      );
      process.stdout.write(
        flags.json
          ? `${JSON.stringify(report)}\n`
          : `${describeRescore(report, competition.leaderboard.precision, waitMs)}\n`,
      );
    });
}
