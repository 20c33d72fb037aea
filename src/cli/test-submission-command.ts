import { Command, Option } from "commander";
import { mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { imageRef, type Phase } from "../config/index.js";
import { evaluateSubmission, QuotaExceededError, type Evaluation } from "../pipeline/evaluate.js";
import { EXIT_CODES, exitCodeFor } from "../status/index.js";
import { packSubmission } from "../submission/index.js";
import { formatDuration } from "../units/index.js";
import { competitionFrom, CONFIG_OPTION, localStore } from "./context.js";
import { renderStandings } from "./leaderboard-command.js";
import { chosenRuntime, runtimeOption } from "./options.js";
import { describeUsage, runResultJson } from "./report.js";
import { UsageError } from "./usage-error.js";

interface Flags {
  config: string;
  submission: string;
  from?: string;
  image?: string;
  participant: string;
  output: string;
  gpu: boolean;
  json: boolean;
  phase: Phase;
  runtime?: string;
}

export function testSubmissionCommand(): Command {
  return new Command("test-submission")
    .description(
      "run a submission exactly as the platform does: pack, run sandboxed, validate, score, record, rank",
    )
    .option(...CONFIG_OPTION)
    .option("--submission <zip>", "the submission zip", "submission.zip")
    .option("--from <dir>", "pack this folder first (instead of an existing zip)")
    .option("--image <ref>", "runtime image (default: the competition's cpu or gpu image)")
    .option(
      "--participant <name>",
      "who is submitting",
      process.env.PROCTOR_PARTICIPANT ?? os.userInfo().username,
    )
    .option("--output <dir>", "where the predictions are left", ".proctor/last-run")
    .option("--gpu", "run with the host's NVIDIA GPUs", false)
    .addOption(
      new Option("--phase <phase>", "whose log rules apply")
        .choices(["local", "smoke_test", "evaluation"])
        .default("local"),
    )
    .addOption(runtimeOption())
    .option("--json", "print exactly one JSON object", false)
    .action(async (flags: Flags) => {
      const loaded = await competitionFrom(flags.config);
      const runtime = await chosenRuntime(flags.runtime, loaded.limits.runtime, flags.config);
      const competition = { ...loaded, limits: { ...loaded.limits, runtime } };
      const image = flags.image ?? imageRef(competition, flags.gpu ? "gpu" : "cpu");
      const packDir = flags.from ? await mkdtemp(path.join(os.tmpdir(), "proctor-pack-")) : null;
      const outputDir = path.resolve(flags.output);
      // The predictions folder belongs to proctor: it holds the last run's output only.
      await rm(outputDir, { recursive: true, force: true });
      const store = await localStore(competition);
      try {
        let zipPath = flags.submission;
        if (flags.from) {
          zipPath = path.join(packDir!, "submission.zip");
          const packed = await packSubmission(flags.from, zipPath);
          if (!flags.json) process.stdout.write(`packed ${flags.from} (${packed.files.length} files)\n`);
        } else if (!(await stat(zipPath).catch(() => null))?.isFile()) {
          throw new UsageError(
            `${zipPath} does not exist; pack your submission first (make pack-submission), or pass --from <dir>`,
          );
        }
        const evaluation = await evaluateSubmission({
          competition,
          zipPath,
          image,
          participant: flags.participant,
          phase: flags.phase,
          outputDir,
          store,
          gpu: flags.gpu,
        });
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(evaluationJson(evaluation))}\n`);
        } else {
          process.stdout.write(`${evaluationText(evaluation, competition.scoring.precision)}\n\n`);
          process.stdout.write(renderStandings(competition, await store.list(), "markdown"));
        }
        process.exitCode = exitCodeFor(evaluation.status);
      } catch (error) {
        if (!(error instanceof QuotaExceededError)) throw error;
        process.stderr.write(`proctor: not run: ${error.message}\n`);
        process.exitCode = EXIT_CODES.participantFailure;
      } finally {
        await store.close();
        if (packDir) await rm(packDir, { recursive: true, force: true });
      }
    });
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
    quota: e.quota,
  };
}

function evaluationText(e: Evaluation, precision: number): string {
  const score = (s: number | null) => (s === null ? "—" : s.toFixed(precision));
  const lines = [
    `${e.status === "succeeded" ? "✔" : "✘"} ${e.status}: ${e.reason}`,
    `  submission  ${e.submissionId} by ${e.participant}`,
    `  duration    ${formatDuration(e.run.durationMs)}${e.run.exitCode === null ? "" : `, exit code ${e.run.exitCode}`}`,
    `  image       ${e.run.image ? `${e.run.image.ref} (${e.run.image.digest ?? e.run.image.id})` : "—"}`,
    `  runtime     ${e.run.runtime}`,
  ];
  const usage = describeUsage(e.run.metrics);
  if (usage) lines.push(`  used        ${usage}`);
  if (e.status === "succeeded")
    lines.push(`  score       public ${score(e.scores.public)}, private ${score(e.scores.private)}`);
  for (const problem of e.problems) lines.push(`  problem     ${problem}`);
  const q = e.quota;
  const left = [
    q.remainingToday === null ? "no daily limit" : `${q.remainingToday} of ${q.dailyLimit} left today`,
    q.remainingTotal === null ? "no total limit" : `${q.remainingTotal} of ${q.totalLimit} left in total`,
  ];
  lines.push(`  quota       ${left.join(", ")}`);
  if (e.logs.stderr) lines.push("stderr:", ...indent(e.logs.stderr, "  warning: "));
  if (e.logs.stdout) lines.push("stdout:", ...indent(e.logs.stdout, "  "));
  return lines.join("\n");
}

function indent(text: string, prefix: string): string[] {
  return text
    .replace(/\n$/, "")
    .split("\n")
    .slice(-20)
    .map((line) => prefix + line);
}
