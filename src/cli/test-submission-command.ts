import { Command } from "commander";
import { mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { imageRef, type Competition, type Phase } from "../config/index.js";
import { IMAGE_CONTAINER } from "../contract/index.js";
import { renderStandings } from "../leaderboard/index.js";
import { printable, visibleLines, type LogVisibility } from "../logs/index.js";
import { evaluateSubmission, type Evaluation } from "../pipeline/evaluate.js";
import { hintEnvironments, runHints, type HintContext } from "../pipeline/hints.js";
import { CompetitionSetupError } from "../pipeline/preflight.js";
import { readResultsJson } from "../pipeline/results-json.js";
import { mergeLogs, programLines, writeRunLog, type LogLine } from "../pipeline/run-log.js";
import { offlineGap, packageLabel } from "../runtime/index.js";
import { EXIT_CODES, exitCodeFor } from "../status/index.js";
import { metricName } from "../scoring/metric-name.js";
import { packSubmission, submissionFileKind } from "../submission/index.js";
import { formatDuration } from "../units/index.js";
import { competitionFrom, CONFIG_OPTION } from "./context.js";
import { localStore, otherBoardsLine } from "./local-board.js";
import { chosenRuntime, runtimeOption } from "./options.js";
import { warnSyntaxErrors } from "./pack-command.js";
import { describeUsage, programExitCode, runResultJson } from "./report.js";
import { UsageError } from "./usage-error.js";

interface Flags {
  config: string;
  submission: string;
  from?: string;
  model?: string;
  image?: string;
  participant: string;
  output: string;
  gpu: boolean;
  json: boolean;
  phase: Phase;
  runtime?: string;
}

/**
 * A local run keeps this much of the head and of the tail of each stream (allocated up front): in practice
 * all of it; the log file says where a stream past 8 MiB was cut.
 */
const LOCAL_LOG_BYTES = 4 * 1024 ** 2;

export function testSubmissionCommand(): Command {
  return new Command("test-submission")
    .description(
      "run a submission exactly as the platform does: pack, run sandboxed, validate, score, record, rank",
    )
    .option(...CONFIG_OPTION)
    .option(
      "--submission <file>",
      "the submission zip, or your image saved with `docker save` (algorithm.tar[.gz])",
      "submission.zip",
    )
    .option(
      "--model <file>",
      "your image's model tarball (model.tar.gz), extracted read-only at /opt/ml/model (Grand Challenge)",
    )
    .option("--from <dir>", "pack this folder first (instead of an existing zip)")
    .option("--image <ref>", "runtime image (default: the competition's cpu or gpu image)")
    .option(
      "--participant <name>",
      "who is submitting",
      process.env.PROCTOR_PARTICIPANT ?? os.userInfo().username,
    )
    .option(
      "--output <dir>",
      "where the run's files are left: log.txt (the whole log) and submission/ (the predictions)",
      ".proctor/last-run",
    )
    .option("--gpu", "run with the host's NVIDIA GPUs", false)
    .option(
      "--phase <phase>",
      "whose log rules apply: local, smoke_test, evaluation or a timeline phase of competition.yml",
      "local",
    )
    .addOption(runtimeOption())
    .option("--json", "print exactly one JSON object", false)
    .action(async (flags: Flags) => {
      const loaded = await competitionFrom(flags.config);
      const named = loaded.lifecycle.phases.map((p) => p.name);
      if (!["local", "smoke_test", "evaluation", ...named].includes(flags.phase)) {
        throw new UsageError(
          `--phase ${JSON.stringify(flags.phase)} is no phase of ${flags.config}: use local, smoke_test, ` +
            `evaluation${named.length > 0 ? ` or one of its timeline phases (${named.join(", ")})` : ""}`,
        );
      }
      const runtime = await chosenRuntime(flags.runtime, loaded.limits.runtime, flags.config);
      // Local runs keep their whole log (the platform keeps a head and a tail).
      const competition: Competition = {
        ...loaded,
        limits: {
          ...loaded.limits,
          runtime,
          logHeadBytes: LOCAL_LOG_BYTES,
          logTailBytes: LOCAL_LOG_BYTES,
        },
      };
      const flavour = flags.gpu ? "gpu" : "cpu";
      const image = flags.image ?? imageRef(competition, flavour);
      const offlineStandsIn = image === imageRef(competition, "offline");
      const hints = await hintEnvironments(competition.file, flavour, offlineStandsIn);
      const packDir = flags.from ? await mkdtemp(path.join(os.tmpdir(), "proctor-pack-")) : null;
      const runDir = path.resolve(flags.output);
      // The run folder belongs to proctor: it holds the last run's log and predictions only.
      await rm(runDir, { recursive: true, force: true });
      const store = await localStore(competition);
      try {
        let zipPath = flags.submission;
        if (flags.from) {
          zipPath = path.join(packDir!, "submission.zip");
          const packed = await packSubmission(flags.from, zipPath);
          const files = packed.files.length;
          if (!flags.json)
            process.stdout.write(`packed ${flags.from} (${files} file${files === 1 ? "" : "s"})\n`);
          await warnSyntaxErrors(flags.from, packed.files);
        } else if (!(await stat(zipPath).catch(() => null))?.isFile()) {
          throw new UsageError(
            `${zipPath} does not exist; pack your submission first (make pack-submission), or pass --from <dir>`,
          );
        }
        const kind = await submissionKind(competition, zipPath, flags.json);
        if (flags.model !== undefined && kind !== "image")
          throw new UsageError(
            `--model ${flags.model}: a model tarball goes with an image submission (algorithm.tar.gz), not a zip; put the model files in your zip instead`,
          );
        if (flags.model !== undefined && !(await stat(flags.model).catch(() => null))?.isFile())
          throw new UsageError(
            `--model ${flags.model} does not exist; make it with tar -czf model.tar.gz -C model .`,
          );
        // The note is about the runtime image, which an image submission does not run in.
        if (kind === "zip" && offlineStandsIn)
          process.stderr.write(offlineBanner(competition, flavour, hints));
        const evaluation = await evaluateSubmission({
          competition,
          zipPath,
          kind,
          ...(flags.model !== undefined && { modelPath: flags.model }),
          image,
          participant: flags.participant,
          phase: flags.phase,
          outputDir: path.join(runDir, "submission"),
          store,
          gpu: flags.gpu,
        });
        const logFile = path.join(runDir, "log.txt");
        await writeRunLog(logFile, evaluation.run.stdout, evaluation.run.stderr);
        const advice = runHints(evaluation.run, {
          ...hints,
          expectedOutput: evaluation.expectedOutput,
          ...(kind === "image" && {
            imageOutputDir:
              competition.submission.kind === "image"
                ? competition.submission.image.outputDir
                : IMAGE_CONTAINER.output,
          }),
        });
        const results = await resultsJson(path.join(runDir, "submission"), evaluation.expectedOutput);
        if (flags.json) {
          process.stdout.write(
            `${JSON.stringify({ ...evaluationJson(evaluation), log_file: logFile, hints: advice, results_json: results })}\n`,
          );
        } else {
          const text = evaluationText(evaluation, competition, path.relative(process.cwd(), logFile), advice);
          const perCase = competition.submission.kind === "image" && competition.submission.image.perCase;
          if (results !== null)
            process.stdout.write(
              `${resultsText(evaluation.expectedOutput, results, perCase ? "collected from each case's output" : "what your program wrote")}\n`,
            );
          process.stdout.write(`${text}\n\n`);
          process.stdout.write(
            renderStandings(await store.list(), competition.leaderboard, {
              competition: competition.name,
              format: "markdown",
            }),
          );
        }
        const boards = otherBoardsLine(store, competition);
        if (boards) process.stderr.write(`${boards}\n`);
        process.exitCode = exitCodeFor(evaluation.status);
      } catch (error) {
        if (!(error instanceof CompetitionSetupError)) throw error;
        process.stderr.write(`proctor: not run: ${error.message}\n`);
        process.exitCode = EXIT_CODES.infrastructureError;
      } finally {
        await store.close();
        if (packDir) await rm(packDir, { recursive: true, force: true });
      }
    });
}

/**
 * What the file is run as: the competition's kind; an image archive given to a competition that takes zips
 * runs as an image with the default paths (/input, /output), and says the platform would not take it.
 */
async function submissionKind(
  competition: Competition,
  file: string,
  quiet: boolean,
): Promise<"zip" | "image"> {
  if (competition.submission.kind === "image") return "image";
  if ((await submissionFileKind(file)) !== "image") return "zip";
  if (!quiet)
    process.stderr.write(
      `note: ${file} is an image archive, but ${path.basename(competition.file)} takes zips (submission.kind: zip): ` +
        "running it as an image with /input and /output; the platform would refuse it\n",
    );
  return "image";
}

/** Grand Challenge's results contract: the JSON the program wrote, shown as is (at most 1 MiB is read). */
async function resultsJson(outputDir: string, expectedOutput: string): Promise<unknown> {
  const text = await readResultsJson(path.join(outputDir, expectedOutput), 1024 ** 2);
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

function resultsText(name: string, results: unknown, origin: string): string {
  const lines = JSON.stringify(results, null, 2).split("\n");
  const shown = lines.slice(0, 20).map((line) => `  ${printable(line)}`);
  if (lines.length > 20) shown.push(`  … ${lines.length - 20} more lines`);
  return [`${name} (${origin}):`, ...shown].join("\n");
}

/** A path as the participant typed it: relative to here, unless that climbs out of here. */
function shownPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative === "" || relative.startsWith("..") ? file : relative;
}

/**
 * Says, before the run, that the offline flavour stands in for the production image and what differs: the
 * packages, where the environment files beside competition.yml (or above it in its repository) say; where
 * none are there, that what differs is not known.
 */
export function offlineBanner(
  competition: Competition,
  flavour: "cpu" | "gpu",
  hints: Pick<HintContext, "production" | "offline">,
): string {
  const lines = [
    `┌ NOTE: this run uses the offline flavour ${imageRef(competition, "offline")}, not the production image ${imageRef(competition, flavour)}`,
  ];
  if (hints.production && hints.offline) {
    const gap = offlineGap(hints.production, hints.offline);
    lines.push(
      `│ (not on this machine and not pullable). It has Debian's Python stack, so it differs from what the platform runs:`,
    );
    if (gap.missing.length > 0) lines.push(`│   missing here: ${gap.missing.map(packageLabel).join(", ")}`);
    if (gap.shared.length > 0)
      lines.push(
        `│   other versions here (Debian's, see ${path.relative(process.cwd(), hints.offline.file)}): ${gap.shared.map((p) => `${p.name} (production ${p.version ?? "unpinned"})`).join(", ")}`,
      );
  } else {
    const missing = [
      ...(hints.production ? [] : [`environment-${flavour}.yml`]),
      ...(hints.offline ? [] : [path.join("runtime", "environment-offline.yml")]),
    ];
    lines.push(
      `│ (not on this machine and not pullable). It has Debian's Python stack, so it differs from what the platform runs;`,
      `│ which packages differ is not known here: no ${missing.join(" or ")} beside ${shownPath(competition.file)} or in a folder above it.`,
    );
  }
  lines.push(
    `└ A score here can differ from the platform's; make pull or make build gets the production image.`,
  );
  return `${lines.join("\n")}\n`;
}

export function evaluationJson(e: Evaluation) {
  return {
    ...runResultJson(e.run),
    stdout: e.logs.stdout,
    stderr: e.logs.stderr,
    log_visibility: e.logs.visibility,
    submission_id: e.submissionId,
    participant: e.participant,
    submitted_at: e.submittedAt,
    phase: e.phase,
    status: e.status,
    reason: e.reason,
    problems: e.problems,
    public_score: e.scores.public,
    private_score: e.scores.private,
    models_digest: e.entry.modelsDigest ?? null,
  };
}

function evaluationText(e: Evaluation, competition: Competition, logFile: string, hints: string[]): string {
  const score = (s: number | null) => (s === null ? "—" : s.toFixed(competition.scoring.precision));
  const exitCode = programExitCode(e.run);
  const lines = [
    `${e.status === "succeeded" ? "✔" : "✘"} ${e.status}: ${e.reason}`,
    `  submission  ${e.submissionId} by ${e.participant}`,
    `  duration    ${formatDuration(e.run.durationMs)}${exitCode === null ? "" : `, exit code ${exitCode}`}`,
    `  image       ${e.run.image ? `${e.run.image.ref} (${e.run.image.digest ?? e.run.image.id})` : "—"}`,
    ...(e.entry.modelsDigest ? [`  models      ${e.entry.modelsDigest} (runtime/models.yml)`] : []),
    `  runtime     ${e.run.runtime}`,
    ...(e.run.notes ?? []).map((note) => `  note        ${note}`),
  ];
  const usage = describeUsage(e.run.metrics);
  if (usage) lines.push(`  used        ${usage}`);
  if (e.status === "succeeded")
    lines.push(
      `  score       ${metricName(competition.scoring.metric)}: public ${score(e.scores.public)}, private ${score(e.scores.private)}`,
    );
  for (const problem of e.problems) lines.push(`  problem     ${problem}`);
  lines.push(`  quota       none on local runs; ${platformLimits(competition)}`);
  const all = mergeLogs(e.run.stdout, e.run.stderr);
  const own = all.filter((line) => line.source === "proctor");
  if (own.length > 0) lines.push("runtime:", ...own.map((line) => `  ${line.text}`));
  lines.push(...programLog(programLines(all), e.logs.visibility, competition.logs.tailLines, logFile));
  for (const hint of hints) lines.push(`hint: ${hint}`);
  return lines.join("\n");
}

function platformLimits(competition: Competition): string {
  const { dailyLimit, totalLimit } = competition.leaderboard;
  if (dailyLimit === null && totalLimit === null) return "the platform has no submission limits either";
  const limits = [
    ...(dailyLimit === null ? [] : [`${dailyLimit} a day`]),
    ...(totalLimit === null ? [] : [`${totalLimit} in total`]),
  ];
  return `the platform allows ${limits.join(" and ")} where you submit`;
}

const lineCount = (n: number) => `${n} line${n === 1 ? "" : "s"}`;

/**
 * The program's log as this phase shows it: stderr lines marked as warnings, stdout as is; the count of
 * lines, how many are shown, and where the whole log is.
 */
function programLog(
  lines: LogLine[],
  visibility: LogVisibility,
  tailLines: number,
  logFile: string,
): string[] {
  if (visibility === "none")
    return [`log: ${lineCount(lines.length)}, not shown in this phase; full log at ${logFile}`];
  if (lines.length === 0) return [`log: the program printed nothing; full log at ${logFile}`];
  const shown = visibleLines(lines, visibility, tailLines);
  const count = shown.length === lines.length ? "all shown" : `last ${shown.length} shown`;
  return [
    `log: ${lineCount(lines.length)}, ${count}, full log at ${logFile}`,
    ...shown.map((line) => (line.source === "stderr" ? `  warning: ${line.text}` : `  ${line.text}`)),
  ];
}
