import path from "node:path";
import { z } from "zod";
import { RulesSchema, type LeaderboardRules } from "../leaderboard/rules.js";
import { capsProblem, DEFAULT_LIMITS, derivedCaps, type SandboxLimits } from "../sandbox/limits.js";
import type { ModelsMount } from "../sandbox/models-volume.js";
import { loadModels, modelsMount } from "../runtime/models.js";
import type { LogVisibility } from "../logs/index.js";
import { isMetricName, METRIC_NAMES, METRICS } from "../scoring/metrics.js";
import type { CustomScorerSpec, Metric } from "../scoring/score-submission.js";
import type { ZipLimits } from "../submission/limits.js";
import {
  finalSelectionSchema,
  phaseNamed,
  resolveLifecycle,
  timelineSchema,
  type Lifecycle,
  type LifecyclePhase,
} from "../lifecycle/index.js";
import { resolveSubmission, submissionSchema, type SubmissionKind } from "./submission.js";
import { durationField, loadYamlFile, readOrganizerFile, sizeField, suggestion } from "../yaml/index.js";
import { SCORER_PATHS, scorerPredictionsFile } from "../contract/index.js";

const duration = durationField;
const size = sizeField;
const positiveInt = z.number().int("must be a whole number").positive("must be at least 1");
const relativePath = z.string().min(1);

const LOG_VISIBILITY = ["full", "tail", "none"] as const;

const limitsSchema = z
  .object({
    time: duration.default(DEFAULT_LIMITS.timeLimitMs),
    grace: duration.default(DEFAULT_LIMITS.graceMs),
    memory: size.default(DEFAULT_LIMITS.memoryBytes),
    cpus: z.number().positive("must be more than 0").default(DEFAULT_LIMITS.cpus),
    pids: positiveInt.default(DEFAULT_LIMITS.pids),
    /** Unset: derived from memory so the three memory-backed folders fit in it (see derivedCaps). */
    shm: size.optional(),
    tmp: size.optional(),
    output_size: size.optional(),
    output_files: positiveInt.default(DEFAULT_LIMITS.outputFiles),
    /** The engine's OCI runtime: runc, or runsc (gVisor) where the runners have it registered. */
    runtime: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "must be an OCI runtime name such as runc or runsc")
      .default(DEFAULT_LIMITS.runtime),
    zip: z
      .object({
        max_size: size.optional(),
        max_total: size.optional(),
        max_entry: size.optional(),
        max_entries: positiveInt.optional(),
        max_ratio: z.number().positive().optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .transform((l, ctx) => {
    const caps = { ...derivedCaps(l.memory), ...definedCaps(l) };
    const problem = capsProblem(
      { memoryBytes: l.memory, ...caps },
      { memory: "limits.memory", output: "limits.output_size", tmp: "limits.tmp", shm: "limits.shm" },
    );
    if (problem) {
      const key = (["output_size", "tmp", "shm"] as const).find((k) => l[k] !== undefined) ?? "memory";
      ctx.addIssue({ code: "custom", path: [key], message: problem });
    }
    return { ...l, shm: caps.shmBytes, tmp: caps.tmpBytes, output_size: caps.outputBytes };
  });

/** The memory-backed caps competition.yml sets by hand. */
function definedCaps(l: { shm?: number; tmp?: number; output_size?: number }) {
  return {
    ...(l.shm !== undefined && { shmBytes: l.shm }),
    ...(l.tmp !== undefined && { tmpBytes: l.tmp }),
    ...(l.output_size !== undefined && { outputBytes: l.output_size }),
  };
}

/** The paths a custom scorer is given (docs/scoring.md): any other /scoring path in its command is a typo. */
const SCORER_INPUTS = new Set([
  SCORER_PATHS.groundTruth,
  scorerPredictionsFile("csv"),
  scorerPredictionsFile("json"),
  scorerPredictionsFile("jsonl"),
  SCORER_PATHS.predictionsFolder,
]);

const customScorerSchema = z
  .object({
    /** What the pages and tables call the score (e.g. RMSLE). */
    name: z.string().trim().min(1).max(40).default("custom score"),
    /** Whether a higher or a lower score is better; agrees with scoring.direction when both are set. */
    direction: z.enum(["higher", "lower"]).optional(),
    /** Run in its own sandboxed container: /scoring/predictions.csv and /scoring/ground_truth.csv read-only. */
    command: z.array(z.string().min(1)).min(1),
    /** Folder (relative to competition.yml) with the scoring code, shown read-only at /scoring/scorer. */
    script_dir: relativePath.optional(),
    /** Defaults to the competition's runtime image. */
    image: z.string().min(1).optional(),
    time: duration.default(10 * 60_000),
    memory: size.default(4 * 1024 ** 3),
  })
  .strict()
  .superRefine((custom, ctx) => {
    custom.command.forEach((arg, i) => {
      const problem = scorerPathProblem(arg, custom.script_dir);
      if (problem) ctx.addIssue({ code: "custom", path: ["command", i], message: problem });
    });
  });

/** Why a command argument under /scoring names nothing the scorer is given (null: it is fine). */
function scorerPathProblem(arg: string, scriptDir: string | undefined): string | null {
  // A folder format's predictions are the folder /scoring/predictions and its files.
  if (!/^\/scoring(\/|$)/.test(arg) || SCORER_INPUTS.has(arg) || /^\/scoring\/predictions(\/|$)/.test(arg))
    return null;
  const inScorer = arg.startsWith(`${SCORER_PATHS.scorer}/`);
  if (inScorer && scriptDir) return null;
  if (inScorer)
    return `names ${arg}, but no script_dir is set, so ${SCORER_PATHS.scorer} is empty; set script_dir to the folder that holds the scorer's files`;
  const name = arg.slice("/scoring/".length);
  return (
    `names ${arg}, which the scorer is not given (it gets ${[...SCORER_INPUTS].join(", ")} and script_dir's files under ${SCORER_PATHS.scorer}/)` +
    (name && !name.includes("/") ? `; a file of script_dir is at ${SCORER_PATHS.scorer}/${name}` : "")
  );
}

/** Denied unless competition.yml says otherwise: licences whose terms reach the programs run with them. */
export const DENIED_LICENCES = [
  "AGPL-1.0-only",
  "AGPL-1.0-or-later",
  "AGPL-3.0-only",
  "AGPL-3.0-or-later",
  "SSPL-1.0",
];

export const competitionSchema = z
  .object({
    name: z.string().min(1),
    /** Shown on the gateway's landing page (plain text; blank lines separate paragraphs). */
    description: z.string().optional(),
    /** Dates and phases (src/lifecycle). */
    timeline: timelineSchema.optional(),
    /** Which entries the private leaderboard uses at reveal (src/lifecycle). */
    final_selection: finalSelectionSchema.optional(),
    /** Submissions queued or running at once per participant (null: no cap). */
    max_active_runs: positiveInt.nullable().optional(),
    runtime: z
      .object({
        image: z.string().min(1),
        cpu_tag: z.string().min(1).default("cpu-latest"),
        gpu_tag: z.string().min(1).default("gpu-latest"),
        offline_tag: z.string().min(1).default("cpu-offline"),
        /** runtime/models.yml: model files every zip run gets read-only at /code_execution/models. */
        models: relativePath.optional(),
        /** The runtime's licence report (proctor runtime sbom): SPDX ids denied, and whether unknown fails. */
        licences: z
          .object({
            deny: z.array(z.string().trim().min(1)).default(DENIED_LICENCES),
            unknown: z.enum(["warn", "fail"]).default("warn"),
          })
          .strict()
          .prefault({}),
      })
      .strict(),
    limits: limitsSchema.prefault({}),
    paths: z
      .object({
        data_dir: relativePath,
        ground_truth: relativePath,
        submission_format: relativePath,
      })
      .strict(),
    /**
     * The kinds of self-hosted runners the competition has (labels `cpu`/`gpu`): the gateway refuses
     * uploads for a kind with no runners, which would otherwise wait forever.
     */
    runners: z
      .array(z.enum(["cpu", "gpu"]))
      .min(1)
      .default(["cpu"]),
    /** Where self-hosted runners keep the hidden test data and ground truth (absolute paths on their disks). */
    runner_paths: z
      .object({ data_dir: z.string().min(1), ground_truth: z.string().min(1) })
      .strict()
      .optional(),
    /** What participants submit: a zip for the shared runtime, or their own image (see submission.ts). */
    submission: submissionSchema,
    scoring: z
      .object({
        metric: z.union([z.string(), z.object({ custom: customScorerSchema }).strict()]),
        /** Optional where the metric says it: a built-in metric's own, or metric.custom.direction. */
        direction: z.enum(["higher", "lower"]).optional(),
        precision: z.number().int().min(0).max(12).default(4),
        /** null: the ground truth has no public/private split; every row is public. */
        usage_column: z.string().min(1).nullable().default("usage"),
      })
      .strict()
      .superRefine((scoring, ctx) => {
        if (typeof scoring.metric !== "string") {
          const own = scoring.metric.custom.direction;
          if (own === undefined && scoring.direction === undefined) {
            ctx.addIssue({
              code: "custom",
              path: ["metric", "custom", "direction"],
              message: `is missing: say whether a higher or a lower ${scoring.metric.custom.name} is better (direction: higher or lower)`,
            });
          } else if (own !== undefined && scoring.direction !== undefined && own !== scoring.direction) {
            ctx.addIssue({
              code: "custom",
              path: ["direction"],
              message: `is "${scoring.direction}" but scoring.metric.custom.direction is "${own}"; they must agree: keep one of the two (scoring.metric.custom.direction is enough)`,
            });
          }
          return;
        }
        if (!isMetricName(scoring.metric)) {
          ctx.addIssue({
            code: "custom",
            path: ["metric"],
            message: `is not a built-in metric${suggestion(scoring.metric, METRIC_NAMES)}; use one of ${METRIC_NAMES.join(", ")}, or a custom scorer ({ custom: { name: ..., direction: ..., command: [...] } }, see docs/scoring.md)`,
          });
          return;
        }
        const direction = METRICS[scoring.metric].direction;
        if (scoring.direction !== undefined && scoring.direction !== direction) {
          ctx.addIssue({
            code: "custom",
            path: ["direction"],
            message: `must be "${direction}" for ${scoring.metric} (a ${direction === "higher" ? "higher" : "lower"} ${scoring.metric} is better), got "${scoring.direction}"; fix direction or the metric`,
          });
        }
      })
      // Typed: a name that is no built-in metric never gets here (refused just above), nor a custom scorer
      // without a direction.
      .transform(({ metric, direction, ...scoring }) => ({
        ...scoring,
        metric: typeof metric !== "string" || isMetricName(metric) ? metric : z.NEVER,
        direction:
          typeof metric !== "string"
            ? (metric.custom.direction ?? direction ?? z.NEVER)
            : isMetricName(metric)
              ? METRICS[metric].direction
              : z.NEVER,
      })),
    leaderboard: z
      .object({
        selection: z.enum(["best", "latest"]).default("best"),
        tie_break: z.literal("earlier_submission").default("earlier_submission"),
        daily_limit: positiveInt.nullable().default(null),
        total_limit: positiveInt.nullable().default(null),
        count_failed: z.boolean().default(true),
        store: relativePath.default(".proctor/leaderboard.sqlite"),
        /** PEM file of the organizer's public key; private scores are sealed with it. */
        sealing_public_key: relativePath.optional(),
      })
      .strict()
      .prefault({}),
    /** What a participant sees of their program's logs, per phase. */
    logs: z
      .object({
        local: z.enum(LOG_VISIBILITY).default("full"),
        smoke_test: z.enum(LOG_VISIBILITY).default("full"),
        // None by default on the hidden set: a program can print the test features it reads.
        evaluation: z.enum(LOG_VISIBILITY).default("none"),
        tail_lines: positiveInt.default(20),
        /** Most of each stream a participant is shown on the gateway (its end), whatever the visibility. */
        max_bytes: size.default(16 * 1024),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type CompetitionFile = z.output<typeof competitionSchema>;
/**
 * Which phase a run belongs to: a timeline phase's name (timeline.phases[].name), or one of the kinds that
 * `logs:` keys on: local (`make test-submission`), smoke_test (the public sample) and evaluation (the
 * hidden set), which are also the phases of a competition whose timeline names none.
 */
export type Phase = string;
/** The kinds of run `logs:` sets a visibility for. */
export type LogKind = "local" | "smoke_test" | "evaluation";

/** competition.yml, resolved: paths absolute (relative to the file's folder), units parsed, rooms' types. */
export interface Competition {
  file: string;
  name: string;
  image: { repository: string; cpuTag: string; gpuTag: string; offlineTag: string };
  /** The runtime's licence policy (runtime.licences): what the SBOM's licence report flags. */
  licences: { deny: string[]; unknown: "warn" | "fail" };
  /** runtime.models, loaded (loadCompetition): the models image and files a zip run mounts; null: none. */
  models?: ModelsMount | null;
  limits: SandboxLimits;
  zipLimits: Partial<ZipLimits>;
  paths: { dataDir: string; groundTruth: string; submissionFormat: string };
  runners: ("cpu" | "gpu")[];
  runnerPaths?: { dataDir: string; groundTruth: string };
  submission: SubmissionKind;
  scoring: {
    /** A built-in metric, or the organizer's scorer (its folder absolute, its limits resolved). */
    metric: Metric;
    direction: "higher" | "lower";
    /** Decimals of every score shown. */
    precision: number;
    /** The ground truth's public/private column; null: no split, every row is public. */
    usageColumn: string | null;
  };
  leaderboard: LeaderboardRules & {
    store: string;
    /** The organizer's public key (PEM text): private scores are sealed with it; absent, not kept. */
    sealingPublicKeyPem?: string;
  };
  /** What a participant sees of their program's logs. */
  logs: {
    /** Per phase (the lifecycle's phases may override theirs). */
    visibility: Record<LogKind, LogVisibility>;
    tailLines: number;
    /** Most of each stream a participant is shown on the gateway (its end), whatever the visibility. */
    maxBytes: number;
  };
  lifecycle: Lifecycle;
}

export interface LoadOptions {
  /**
   * The organizer's public key as PEM text (a runner's secret): used instead of the file
   * leaderboard.sealing_public_key names, which is then not read.
   */
  sealingPublicKeyPem?: string;
}

export async function loadCompetition(
  file = "competition.yml",
  options: LoadOptions = {},
): Promise<Competition> {
  const parsed = await loadYamlFile(file, competitionSchema);
  const pem = options.sealingPublicKeyPem ?? (await readSealingKey(parsed, file));
  const models = parsed.runtime.models
    ? modelsMount(
        await loadModels(path.resolve(path.dirname(file), parsed.runtime.models)),
        parsed.runtime.image,
      )
    : undefined;
  return { ...resolveCompetition(parsed, file, pem), ...(models !== undefined && { models }) };
}

const KEYGEN_FIX = "make the key pair with proctor leaderboard keygen and point this at leaderboard.pub.pem";

/** The PEM text of the file leaderboard.sealing_public_key names (relative to competition.yml), if any. */
async function readSealingKey(parsed: CompetitionFile, file: string): Promise<string | undefined> {
  const named = parsed.leaderboard.sealing_public_key;
  if (!named) return undefined;
  const keyFile = path.resolve(path.dirname(path.resolve(file)), named);
  return readOrganizerFile(keyFile, {
    file,
    key: "leaderboard.sealing_public_key",
    names: `names ${keyFile}`,
    fix: { missing: KEYGEN_FIX, unreadable: KEYGEN_FIX },
  });
}

export function resolveCompetition(
  parsed: CompetitionFile,
  file: string,
  /** The PEM text of the sealing key (loadCompetition reads the file competition.yml names). */
  sealingPublicKeyPem?: string,
): Competition {
  const base = path.dirname(path.resolve(file));
  const at = (p: string) => path.resolve(base, p);
  const l = parsed.limits;
  const lb = parsed.leaderboard;
  const { metric } = parsed.scoring;
  const logs = parsed.logs;
  const limits: SandboxLimits = {
    ...DEFAULT_LIMITS,
    timeLimitMs: l.time,
    graceMs: l.grace,
    memoryBytes: l.memory,
    cpus: l.cpus,
    pids: l.pids,
    shmBytes: l.shm,
    tmpBytes: l.tmp,
    outputBytes: l.output_size,
    outputFiles: l.output_files,
    runtime: l.runtime,
  };
  const rules = RulesSchema.parse({
    direction: parsed.scoring.direction,
    precision: parsed.scoring.precision,
    selection: lb.selection,
    tieBreak: lb.tie_break,
    dailyLimit: lb.daily_limit,
    totalLimit: lb.total_limit,
    countFailed: lb.count_failed,
  });
  return {
    file: path.resolve(file),
    name: parsed.name,
    image: {
      repository: parsed.runtime.image,
      cpuTag: parsed.runtime.cpu_tag,
      gpuTag: parsed.runtime.gpu_tag,
      offlineTag: parsed.runtime.offline_tag,
    },
    licences: parsed.runtime.licences,
    limits,
    zipLimits: {
      ...(l.zip.max_size !== undefined && { maxZipBytes: l.zip.max_size }),
      ...(l.zip.max_total !== undefined && { maxTotalBytes: l.zip.max_total }),
      ...(l.zip.max_entry !== undefined && { maxEntryBytes: l.zip.max_entry }),
      ...(l.zip.max_entries !== undefined && { maxEntries: l.zip.max_entries }),
      ...(l.zip.max_ratio !== undefined && { maxCompressionRatio: l.zip.max_ratio }),
    },
    paths: {
      dataDir: at(parsed.paths.data_dir),
      groundTruth: at(parsed.paths.ground_truth),
      submissionFormat: at(parsed.paths.submission_format),
    },
    runners: [...new Set(parsed.runners)],
    ...(parsed.runner_paths && {
      runnerPaths: { dataDir: parsed.runner_paths.data_dir, groundTruth: parsed.runner_paths.ground_truth },
    }),
    submission: resolveSubmission(parsed.submission),
    scoring: {
      metric: typeof metric === "string" ? metric : { custom: customScorer(metric.custom, limits, at) },
      direction: parsed.scoring.direction,
      precision: parsed.scoring.precision,
      usageColumn: parsed.scoring.usage_column,
    },
    leaderboard: {
      ...rules,
      store: at(lb.store),
      ...(sealingPublicKeyPem && { sealingPublicKeyPem }),
    },
    logs: {
      visibility: { local: logs.local, smoke_test: logs.smoke_test, evaluation: logs.evaluation },
      tailLines: logs.tail_lines,
      maxBytes: logs.max_bytes,
    },
    lifecycle: resolveLifecycle(parsed),
  };
}

/** The custom scorer runs under the competition's limits with its own time and memory. */
function customScorer(
  custom: z.output<typeof customScorerSchema>,
  limits: SandboxLimits,
  at: (p: string) => string,
): CustomScorerSpec {
  return {
    name: custom.name,
    command: custom.command,
    ...(custom.script_dir && { scriptDir: at(custom.script_dir) }),
    ...(custom.image && { image: custom.image }),
    limits: { ...limits, timeLimitMs: custom.time, memoryBytes: custom.memory },
  };
}

/**
 * What participants see of their program's logs in `phase`: the timeline's phase says, else `logs:` for its
 * kind of data (a public-sample phase as smoke_test, a hidden-set phase as evaluation).
 */
export function logVisibility(competition: Competition, phase: Phase): LogVisibility {
  return (
    phaseNamed(competition.lifecycle, phase)?.logs ?? competition.logs.visibility[logKind(competition, phase)]
  );
}

/** How many submissions a participant may make in `phase`, and have under way: its own, else competition.yml's. */
export function submissionLimits(
  competition: Competition,
  phase: LifecyclePhase | undefined,
): { dailyLimit: number | null; totalLimit: number | null; maxActiveRuns: number | null } {
  const { leaderboard, lifecycle } = competition;
  return {
    dailyLimit: phase?.dailyLimit !== undefined ? phase.dailyLimit : leaderboard.dailyLimit,
    totalLimit: phase?.totalLimit !== undefined ? phase.totalLimit : leaderboard.totalLimit,
    maxActiveRuns: phase?.maxActiveRuns !== undefined ? phase.maxActiveRuns : lifecycle.maxActiveRuns,
  };
}

/**
 * The run's limits in `phase`: competition.yml's `limits`, with what the timeline's phase sets over them.
 * A phase that changes the memory gets the memory-backed folders' caps derived from it (derivedCaps), so
 * they always fit.
 */
export function phaseLimits(competition: Competition, phase: Phase): SandboxLimits {
  const own = phaseNamed(competition.lifecycle, phase)?.limits;
  if (!own) return competition.limits;
  return {
    ...competition.limits,
    ...own,
    ...(own.memoryBytes !== undefined && derivedCaps(own.memoryBytes)),
  };
}

/**
 * The kind of run `phase` is, for `logs:` and the runners' data: a timeline phase by its data (public sample:
 * smoke_test, hidden set: evaluation); local and smoke_test as named; anything else as the hidden set, whose
 * logs are the most guarded.
 */
export function logKind(competition: Competition, phase: Phase): LogKind {
  const named = phaseNamed(competition.lifecycle, phase);
  if (named) return named.data === "public_sample" ? "smoke_test" : "evaluation";
  return phase === "local" || phase === "smoke_test" ? phase : "evaluation";
}

export function imageRef(competition: Competition, flavour: "cpu" | "gpu" | "offline"): string {
  const tag = {
    cpu: competition.image.cpuTag,
    gpu: competition.image.gpuTag,
    offline: competition.image.offlineTag,
  }[flavour];
  return `${competition.image.repository}:${tag}`;
}
