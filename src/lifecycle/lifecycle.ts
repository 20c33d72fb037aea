/**
 * The competition's lifecycle (competition.yml keys `description`, `timeline`, `final_selection`,
 * `max_active_runs`): when uploads are open, which phase is current, the limits and log visibility of that
 * phase, how many runs a participant may have under way, and which entries the private leaderboard uses at
 * reveal. Pure functions of the configuration and a time: no I/O.
 *
 *   timeline:
 *     start: 2025-03-01T00:00:00Z      # uploads refused before (optional)
 *     end: 2025-06-30T23:59:59Z        # and after (optional)
 *     phases:                          # optional; in order; each runs from its start to the next one's
 *       - name: practice               # any [a-z][a-z0-9_-]* name, unique
 *         title: Practice on the public sample
 *         start: 2025-03-01T00:00:00Z
 *         data: public_sample          # public_sample (the repository's `paths`) | hidden (`runner_paths`);
 *                                      # default: public_sample for a phase named smoke_test, else hidden
 *         logs: full                   # default logs.smoke_test (public_sample) or logs.evaluation (hidden)
 *         daily_limit: 20              # override leaderboard.daily_limit / total_limit in this phase
 *         max_active_runs: 2           # overrides max_active_runs in this phase
 *         limits: { time: 30m, memory: 8g, cpus: 4 }   # the run's limits here (over `limits:`)
 *         runner_paths: { data_dir: /srv/proctor/sample, ground_truth: /srv/proctor/sample_gt.csv }
 *       - name: final
 *         start: 2025-03-15T00:00:00Z
 *         final: true                  # the phase the reveal ranks (default: the last); one at most
 *   Each phase has its own leaderboard and its own quota: entries of one never count in another.
 *   final_selection: { mode: best, count: 2 }   # best: the best N automatically; chosen: up to N picked
 *   max_active_runs: 1                          # queued or running at once per participant (null: any)
 */
import { z } from "zod";
import type { LeaderboardEntry } from "../leaderboard/index.js";
import { durationField, sizeField } from "../yaml/units.js";

const LOG_VISIBILITY = ["full", "tail", "none"] as const;
export type PhaseName = string;
/** A phase's name: what entries, pages, the API and the runners call it. */
export const PHASE_NAME = /^[a-z][a-z0-9_-]{0,39}$/;
/** Where a phase's test data comes from: the repository's public sample, or the runners' hidden set. */
export type PhaseData = "public_sample" | "hidden";

const instant = z.union([z.string(), z.date()]).transform((value, ctx) => {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime()) || (typeof value === "string" && !/[zZ]|[+-]\d\d:?\d\d$/.test(value))) {
    ctx.addIssue({
      code: "custom",
      message:
        `${JSON.stringify(String(value))} is not a date with a time zone: write e.g. ` +
        `2025-03-01T00:00:00Z (ISO 8601, UTC)`,
    });
    return z.NEVER;
  }
  return date;
});
const limit = z.number().int("must be a whole number").positive("must be at least 1").nullable();

const phaseSchema = z
  .object({
    name: z
      .string()
      .regex(PHASE_NAME, "must be lowercase letters, digits, _ or -, starting with a letter (at most 40)"),
    title: z.string().min(1).max(100).optional(),
    start: instant,
    final: z.boolean().optional(),
    data: z.enum(["public_sample", "hidden"]).optional(),
    max_active_runs: limit.optional(),
    /** The run's limits in this phase, over competition.yml's `limits` (e.g. more time for the final). */
    limits: z
      .object({
        time: durationField.optional(),
        grace: durationField.optional(),
        memory: sizeField.optional(),
        cpus: z.number().positive("must be more than 0").optional(),
      })
      .strict()
      .optional(),
    logs: z.enum(LOG_VISIBILITY).optional(),
    daily_limit: limit.optional(),
    total_limit: limit.optional(),
    /** Where runners keep this phase's data (absolute paths on their disks); default `runner_paths`. */
    runner_paths: z
      .object({ data_dir: z.string().min(1), ground_truth: z.string().min(1) })
      .strict()
      .optional(),
  })
  .strict();

export const timelineSchema = z
  .object({
    start: instant.optional(),
    end: instant.optional(),
    phases: z.array(phaseSchema).default([]),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.start && t.end && t.end <= t.start)
      ctx.addIssue({ code: "custom", path: ["end"], message: "must be after timeline.start" });
    const finals = t.phases.filter((p) => p.final === true);
    if (finals.length > 1) {
      ctx.addIssue({
        code: "custom",
        path: ["phases"],
        message: `only one phase can be final, but ${finals.map((p) => p.name).join(" and ")} say final: true`,
      });
    }
    t.phases.forEach((p, i) => {
      const same = t.phases.findIndex((q) => q.name === p.name);
      if (same !== i) {
        ctx.addIssue({
          code: "custom",
          path: ["phases", i, "name"],
          message: `${p.name} is the name of phase ${same + 1} too: give each phase its own name`,
        });
      }
      const previous = t.phases[i - 1];
      if (previous && p.start <= previous.start) {
        ctx.addIssue({
          code: "custom",
          path: ["phases", i, "start"],
          message: `must be after the start of the phase before (${previous.name}): list phases in order`,
        });
      }
    });
  });

export const finalSelectionSchema = z
  .object({
    /** best: each participant's best N scored entries; chosen: the ones they pick (their best when none). */
    mode: z.enum(["best", "chosen"]).default("best"),
    count: z.number().int().positive("must be at least 1").default(1),
  })
  .strict();

export type TimelineFile = z.output<typeof timelineSchema>;
export type FinalSelectionFile = z.output<typeof finalSelectionSchema>;

export interface LifecyclePhase {
  name: PhaseName;
  title: string;
  start: Date;
  /** The next phase's start, or the timeline's end. */
  end: Date | null;
  /** The phase the reveal ranks: exactly one of the timeline's phases (`final: true`, else the last). */
  final: boolean;
  data: PhaseData;
  logs?: "full" | "tail" | "none";
  dailyLimit?: number | null;
  totalLimit?: number | null;
  maxActiveRuns?: number | null;
  /** The run's limits in this phase, where they differ from competition.yml's `limits`. */
  limits?: { timeLimitMs?: number; graceMs?: number; memoryBytes?: number; cpus?: number };
  runnerPaths?: { dataDir: string; groundTruth: string };
}

export interface Lifecycle {
  description: string;
  start: Date | null;
  end: Date | null;
  phases: LifecyclePhase[];
  finalSelection: { mode: "best" | "chosen"; count: number };
  /** Submissions queued or running at once per participant; null: no cap. */
  maxActiveRuns: number | null;
}

const TITLES: Record<string, string> = {
  smoke_test: "Smoke test (public sample)",
  evaluation: "Evaluation (hidden test set)",
};

/** A title for a phase that has none: "final-round" -> "Final round". */
function titleOf(name: string): string {
  const words = name.replace(/[_-]+/g, " ").trim();
  return TITLES[name] ?? words.charAt(0).toUpperCase() + words.slice(1);
}

export function resolveLifecycle(input: {
  description?: string | undefined;
  timeline?: TimelineFile | undefined;
  final_selection?: FinalSelectionFile | undefined;
  max_active_runs?: number | null | undefined;
}): Lifecycle {
  const t = input.timeline;
  const end = t?.end ?? null;
  const listed = t?.phases ?? [];
  const marked = listed.findIndex((p) => p.final === true);
  const final = marked !== -1 ? marked : listed.length - 1;
  const phases = listed.map((p, i, all): LifecyclePhase => ({
    name: p.name,
    title: p.title ?? titleOf(p.name),
    start: p.start,
    end: all[i + 1]?.start ?? end,
    final: i === final,
    data: p.data ?? (p.name === "smoke_test" ? "public_sample" : "hidden"),
    ...(p.logs && { logs: p.logs }),
    ...(p.daily_limit !== undefined && { dailyLimit: p.daily_limit }),
    ...(p.total_limit !== undefined && { totalLimit: p.total_limit }),
    ...(p.max_active_runs !== undefined && { maxActiveRuns: p.max_active_runs }),
    ...(p.limits && {
      limits: {
        ...(p.limits.time !== undefined && { timeLimitMs: p.limits.time }),
        ...(p.limits.grace !== undefined && { graceMs: p.limits.grace }),
        ...(p.limits.memory !== undefined && { memoryBytes: p.limits.memory }),
        ...(p.limits.cpus !== undefined && { cpus: p.limits.cpus }),
      },
    }),
    ...(p.runner_paths && {
      runnerPaths: { dataDir: p.runner_paths.data_dir, groundTruth: p.runner_paths.ground_truth },
    }),
  }));
  return {
    description: input.description ?? "",
    start: t?.start ?? phases[0]?.start ?? null,
    end,
    phases,
    finalSelection: input.final_selection ?? { mode: "best", count: 1 },
    maxActiveRuns: input.max_active_runs ?? null,
  };
}

/** The phase the reveal ranks (undefined when no phases are configured). */
export function finalPhase(lifecycle: Lifecycle): LifecyclePhase | undefined {
  return lifecycle.phases.find((p) => p.final);
}

/**
 * The phase a leaderboard shows when none is asked for: the current one; between phases or after the end,
 * the last that began; before the first, the first. undefined: no phases configured.
 */
export function defaultBoardPhase(lifecycle: Lifecycle, now: Date): LifecyclePhase | undefined {
  return lifecycle.phases.filter((p) => p.start <= now).at(-1) ?? lifecycle.phases[0];
}

/** The phase named `name` (undefined: none such, or no phases). */
export function phaseNamed(
  lifecycle: Lifecycle,
  name: string | null | undefined,
): LifecyclePhase | undefined {
  return name == null ? undefined : lifecycle.phases.find((p) => p.name === name);
}

/** The phase in effect at `now` (undefined before the first, or when no phases are configured). */
export function phaseAt(lifecycle: Lifecycle, now: Date): LifecyclePhase | undefined {
  let current: LifecyclePhase | undefined;
  for (const phase of lifecycle.phases) if (phase.start <= now) current = phase;
  if (current?.end && current.end <= now) return undefined;
  return current;
}

export type UploadWindow = { open: true } | { open: false; reason: string; opensAt: Date | null };

/** Whether uploads are taken at `now`, and when they are not, why (for the participant). */
export function uploadWindow(lifecycle: Lifecycle, now: Date): UploadWindow {
  const { start, end } = lifecycle;
  if (start && now < start) {
    return {
      open: false,
      opensAt: start,
      reason:
        `submissions open at ${start.toISOString()}; it is now ` +
        `${now.toISOString()}: submit again then, and test locally with \`make test-submission\` meanwhile`,
    };
  }
  if (end && now >= end) {
    return {
      open: false,
      opensAt: null,
      reason: `submissions closed at ${end.toISOString()}; the competition takes no more entries`,
    };
  }
  return { open: true };
}

/** What a final selection needs of an entry. */
export interface SelectableEntry {
  submissionId: string;
  participant: string;
  submittedAt: string;
  /** The public score; entries without one (failed runs) are never selected. */
  score: number | null;
  /** The participant picked it (mode `chosen`). */
  chosen?: boolean;
}

/**
 * The entries the private leaderboard uses at reveal, per participant: `best` keeps each participant's N
 * best scored entries by public score (earlier first on ties); `chosen` keeps the up to N they picked, or
 * their best N when they picked none (Kaggle's rule), so nobody is left without an entry by forgetting.
 */
export function selectFinal<T extends SelectableEntry>(
  entries: readonly T[],
  rule: Lifecycle["finalSelection"],
  direction: "higher" | "lower",
): T[] {
  const byParticipant = new Map<string, T[]>();
  for (const e of entries) {
    if (e.score === null || !Number.isFinite(e.score)) continue;
    byParticipant.set(e.participant, [...(byParticipant.get(e.participant) ?? []), e]);
  }
  const better = (a: T, b: T) =>
    (direction === "higher" ? b.score! - a.score! : a.score! - b.score!) ||
    a.submittedAt.localeCompare(b.submittedAt) ||
    a.submissionId.localeCompare(b.submissionId);
  const selected: T[] = [];
  for (const own of byParticipant.values()) {
    const chosen = rule.mode === "chosen" ? own.filter((e) => e.chosen) : [];
    const pool = chosen.length > 0 ? chosen : own;
    selected.push(...[...pool].sort(better).slice(0, rule.count));
  }
  return selected;
}

/**
 * The entries the private leaderboard ranks at reveal: of each participant's final selection (selectFinal:
 * by public score, or their choices), the one with the best revealed private score stays scored; every other
 * entry of theirs keeps its place in the counts but loses its public score, so a ranking picks exactly that
 * entry for them, whatever the live leaderboard's `selection` is.
 */
export function finalEntries(
  revealed: readonly LeaderboardEntry[],
  rule: Lifecycle["finalSelection"],
  direction: "higher" | "lower",
  chosen: ReadonlySet<string> = new Set(),
): LeaderboardEntry[] {
  const selected = selectFinal(
    revealed.map((e) => ({ ...e, score: e.publicScore, chosen: chosen.has(e.submissionId) })),
    rule,
    direction,
  );
  const sign = direction === "higher" ? -1 : 1;
  const better = (a: LeaderboardEntry, b: LeaderboardEntry) =>
    a.privateScore !== null && (b.privateScore === null || sign * (a.privateScore - b.privateScore) < 0);
  const final = new Map<string, LeaderboardEntry>();
  for (const e of selected) {
    const current = final.get(e.participant);
    if (!current || better(e, current)) final.set(e.participant, e);
  }
  const keep = new Set([...final.values()].map((e) => e.submissionId));
  return revealed.map((e) =>
    keep.has(e.submissionId) || e.publicScore === null ? e : { ...e, publicScore: null },
  );
}
