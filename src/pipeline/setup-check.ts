/**
 * The whole competition setup, checked in seconds without running a submission (`proctor check`, and
 * `proctor serve` before it starts): competition.yml, the submission format and the metric against it,
 * the ground truth's columns and split for every phase's data that is on this machine, the sealing key
 * (and the private key that opens it, where the organizer holds it), the metric or custom scorer tried on
 * predictions made from the ground truth, and the gateway's token. Every problem names the file, the key,
 * the rule and the fix; nothing here is ever charged to a participant.
 */
import { mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { loadCompetition, type Competition } from "../config/index.js";
import { openSealedScore, SealError, sealScore } from "../leaderboard/index.js";
import { EngineError, resolveImage } from "../sandbox/index.js";
import {
  metricName,
  OutputInvalidError,
  runCustomScorer,
  scorePredictions,
  scorerPredictionsPath,
  ScorerFailedError,
  ScoringError,
  type CustomScorerSpec,
  type SubmissionFormat,
} from "../scoring/index.js";
import { YamlConfigError } from "../yaml/index.js";
import { checkCompetitionSetup, CompetitionSetupError } from "./preflight.js";
import { writeSamplePredictions, type SamplePredictions } from "./setup-sample.js";

export interface SetupCheckOptions {
  /** The organizer's private sealing key (PEM text) and where it came from: it must open what the public key seals. */
  privateKey?: { pem: string; source: string };
  /**
   * Images to run a custom scorer in, the first this engine has wins (its own image, when it names one,
   * comes first); absent: the scorer is not run (the gateway, which need not have Docker).
   */
  scorerImages?: string[];
  /** The environment the gateway runs in: its GitHub token is checked; absent, not checked. */
  gatewayEnv?: NodeJS.ProcessEnv;
}

export interface SetupReport {
  /** Null when competition.yml itself does not load. */
  competition: Competition | null;
  /** What was checked and found right, one line each. */
  passed: string[];
  /** What was not checked here, and where it is. */
  notes: string[];
  /** The organizer's mistakes: file, key, rule and fix. */
  problems: string[];
  /** What could not be checked for a fault of this machine (no Docker engine, no image). */
  unavailable: string[];
}

/** The GitHub token `proctor serve` dispatches with: PROCTOR_GITHUB_TOKEN, else GITHUB_TOKEN. */
export function gatewayToken(env: NodeJS.ProcessEnv): string | undefined {
  return env["PROCTOR_GITHUB_TOKEN"] || env["GITHUB_TOKEN"] || undefined;
}

export async function checkSetup(file: string, options: SetupCheckOptions = {}): Promise<SetupReport> {
  const report: SetupReport = { competition: null, passed: [], notes: [], problems: [], unavailable: [] };
  const shown = relative(file);
  if (options.gatewayEnv) checkGatewayToken(options.gatewayEnv, report);
  try {
    report.competition = await loadCompetition(file);
  } catch (error) {
    if (!(error instanceof YamlConfigError)) throw error;
    report.problems.push(...error.issues.map((issue) => formatIssueLine(issue)));
    return report;
  }
  const competition = report.competition;
  const { scoring } = competition;
  report.passed.push(
    `${shown} loads: "${competition.name}", scored by ${metricName(scoring.metric)} (${scoring.direction} is better)`,
  );

  const format = await checkData(competition, shown, report, {
    where: "paths",
    dataDir: competition.paths.dataDir,
    groundTruth: competition.paths.groundTruth,
  });
  for (const data of runnerData(competition)) {
    const reachable = await Promise.all([exists(data.dataDir), exists(data.groundTruth)]);
    if (reachable.some(Boolean)) await checkData(competition, shown, report, data);
    else
      report.notes.push(
        `${data.where}: ${data.dataDir} and ${data.groundTruth} are not on this machine; each runner checks its own before it runs a submission (run proctor check there to see it now)`,
      );
  }
  checkPhases(competition, shown, report);
  checkSealing(competition, shown, report, options.privateKey);
  if (format) await checkScoring(competition, format, shown, report, options.scorerImages);
  return report;
}

/**
 * The timeline's phases in one line (their data, the final one); a note for a hidden-set phase no
 * runner_paths name: only local runners (on the organizer's clone, reading `paths`) could run it.
 */
function checkPhases(competition: Competition, shown: string, report: SetupReport): void {
  const { phases } = competition.lifecycle;
  if (phases.length === 0) return;
  const described = phases.map(
    (p) =>
      `${p.name} (${p.data === "public_sample" ? "public sample" : "hidden set"}${p.final ? ", final" : ""})`,
  );
  report.passed.push(
    `${shown}: phases ${described.join(" → ")}; each counts its own quota and has its own board`,
  );
  phases.forEach((phase, i) => {
    if (phase.data === "hidden" && !phase.runnerPaths && !competition.runnerPaths) {
      report.notes.push(
        `timeline.phases[${i}] (${phase.name}) runs on the hidden set, but neither it nor competition.yml sets ` +
          "runner_paths: runners elsewhere would have no data for it (only proctor serve's local runners, which " +
          "read paths); set runner_paths, or data: public_sample",
      );
    }
  });
}

function formatIssueLine(issue: YamlConfigError["issues"][number]): string {
  const where = issue.line === null ? issue.file : `${issue.file}:${issue.line}`;
  return `${relative(where)}: ${issue.key || "(top level)"} ${issue.message}`;
}

function checkGatewayToken(env: NodeJS.ProcessEnv, report: SetupReport): void {
  if (gatewayToken(env)) {
    report.passed.push("the gateway's GitHub token is set (PROCTOR_GITHUB_TOKEN or GITHUB_TOKEN)");
    return;
  }
  report.problems.push(
    "PROCTOR_GITHUB_TOKEN: not set (nor GITHUB_TOKEN), and the gateway dispatches submissions to the runners with it; " +
      "set it to a token that may send repository_dispatch to the repository (fine-grained: Contents read and write)",
  );
}

interface PhaseData {
  /** The competition.yml key that names the data: paths, runner_paths or timeline.phases[i].runner_paths. */
  where: string;
  dataDir: string;
  groundTruth: string;
}

/** Every phase's runner data: the top-level runner_paths and each phase's own. */
function runnerData(competition: Competition): PhaseData[] {
  const data: PhaseData[] = [];
  if (competition.runnerPaths) data.push({ where: "runner_paths", ...competition.runnerPaths });
  competition.lifecycle.phases.forEach((phase, i) => {
    if (phase.runnerPaths)
      data.push({ where: `timeline.phases[${i}].runner_paths (${phase.name})`, ...phase.runnerPaths });
  });
  return data;
}

/** One phase's data through the preflight every run takes; its problems keyed by where the paths are set. */
async function checkData(
  competition: Competition,
  shown: string,
  report: SetupReport,
  data: PhaseData,
): Promise<SubmissionFormat | null> {
  try {
    const format = await checkCompetitionSetup(competition, data);
    report.passed.push(
      `${data.where}: ${relative(data.dataDir)} and ${relative(data.groundTruth)} fit the submission format ${relative(format.source)} and ${metricName(competition.scoring.metric)}`,
    );
    return format;
  } catch (error) {
    if (!(error instanceof CompetitionSetupError)) throw error;
    const known = new Set(report.problems);
    for (const problem of error.problems) {
      // The format and scorer problems are the same for every phase: said once.
      const line = `${shown}: ${problem.replace(/^paths\.(data_dir|ground_truth):/, `${data.where}.$1:`)}`;
      if (!known.has(line)) report.problems.push(line);
    }
    return null;
  }
}

function checkSealing(
  competition: Competition,
  shown: string,
  report: SetupReport,
  privateKey: SetupCheckOptions["privateKey"],
): void {
  const pem = competition.leaderboard.sealingPublicKeyPem;
  if (!pem) {
    if (privateKey)
      report.problems.push(
        `${shown}: leaderboard.sealing_public_key is not set, so no private score is sealed and ${privateKey.source} opens nothing; set it to the public key of the pair (leaderboard.pub.pem)`,
      );
    else
      report.notes.push(
        `${shown}: leaderboard.sealing_public_key is not set: private scores are not kept (proctor leaderboard keygen makes a pair)`,
      );
    return;
  }
  let sealed: string;
  try {
    sealed = sealScore(0.5, "proctor-check", pem);
  } catch (error) {
    if (!(error instanceof SealError)) throw error;
    report.problems.push(
      `${shown}: leaderboard.sealing_public_key: ${error.message}; make the key pair with proctor leaderboard keygen and point this at leaderboard.pub.pem`,
    );
    return;
  }
  if (!privateKey) {
    report.passed.push(
      `${shown}: leaderboard.sealing_public_key seals private scores (pass --key <private key> where you keep it to check the pair)`,
    );
    return;
  }
  try {
    openSealedScore(sealed, "proctor-check", privateKey.pem);
    report.passed.push(
      `${privateKey.source} opens what leaderboard.sealing_public_key seals: the pair is right`,
    );
  } catch (error) {
    if (!(error instanceof SealError)) throw error;
    report.problems.push(
      `${privateKey.source} does not open what leaderboard.sealing_public_key (${shown}) seals: ${error.message}; ` +
        "pass the private key of the same pair, or point leaderboard.sealing_public_key at its public key",
    );
  }
}

/** The metric or the organizer's scorer on predictions made from the (local) ground truth. */
async function checkScoring(
  competition: Competition,
  format: SubmissionFormat,
  shown: string,
  report: SetupReport,
  scorerImages: string[] | undefined,
): Promise<void> {
  const { metric, direction } = competition.scoring;
  const name = metricName(metric);
  const key = typeof metric === "string" ? "scoring.metric" : "scoring.metric.custom";
  if (typeof metric !== "string" && !scorerImages) {
    report.notes.push(`${key}: the scorer ${name} was not run here; proctor check runs it on a sample`);
    return;
  }
  const scratch = await mkdtemp(path.join(os.tmpdir(), "proctor-check-"));
  try {
    const groundTruth = competition.paths.groundTruth;
    const sample = await writeSamplePredictions(format, groundTruth, path.join(scratch, "sample"));
    if ("skipped" in sample) {
      report.notes.push(
        `${key}: ${name} was not tried on a sample: ${sample.skipped}; try it with proctor test-submission`,
      );
      return;
    }
    const score =
      typeof metric === "string"
        ? (file: string) => builtInScore(competition, format, file)
        : await customScore(
            metric.custom,
            format,
            competition.scoring.usageColumn,
            groundTruth,
            scorerImages!,
            report,
          );
    if (!score) return;
    const perfect = await score(sample.perfect);
    const shifted = await score(sample.shifted);
    judgeSample(report, { shown, key, name, direction, sample }, perfect, shifted);
  } catch (error) {
    if (error instanceof EngineError || (error instanceof ScorerFailedError && error.infrastructure)) {
      report.unavailable.push(`${key}: the scorer ${name} could not be run here: ${error.message}`);
    } else if (error instanceof ScorerFailedError) {
      report.problems.push(
        `${shown}: ${key}: the scorer ${name} failed on predictions made from the ground truth's own values ` +
          `(the organizer's to fix; docs/scoring.md says what it gets and must print): ${error.message}`,
      );
    } else if (error instanceof OutputInvalidError) {
      report.problems.push(
        `${shown}: paths.submission_format: the ground truth's own values break the format ${format.source}, so no submission can be right: ` +
          `${error.failure.overview}; make the format's types and categories admit the true values`,
      );
    } else if (error instanceof ScoringError) {
      report.problems.push(
        `${shown}: ${key}: ${name} cannot score predictions made from the ground truth: ${error.message}`,
      );
    } else throw error;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function builtInScore(
  competition: Competition,
  format: SubmissionFormat,
  predictionsPath: string,
): Promise<number | null> {
  const { metric, usageColumn } = competition.scoring;
  if (typeof metric !== "string") return null;
  const result = await scorePredictions({
    predictionsPath,
    groundTruthPath: competition.paths.groundTruth,
    format,
    metric,
    usageColumn,
  });
  return result.overall;
}

/** A scoring function that runs the scorer in the first image this engine has; null (and why) when none. */
async function customScore(
  custom: CustomScorerSpec,
  format: SubmissionFormat,
  usageColumn: string | null,
  groundTruth: string,
  candidates: string[],
  report: SetupReport,
): Promise<((file: string) => Promise<number | null>) | null> {
  const images = custom.image ? [custom.image] : candidates;
  let image: string | null = null;
  for (const candidate of images) {
    if (
      await resolveImage(candidate).then(
        () => true,
        () => false,
      )
    ) {
      image = candidate;
      break;
    }
  }
  if (!image) {
    report.unavailable.push(
      `scoring.metric.custom: the scorer ${custom.name} was not run: none of ${images.join(", ")} is on this Docker engine ` +
        "(make pull, or make build-offline; is the engine running?)",
    );
    return null;
  }
  const scorer = {
    command: custom.command,
    image,
    limits: custom.limits,
    ...(custom.scriptDir && { scriptDir: custom.scriptDir }),
  };
  const columns = { id: format.idColumn, usage: usageColumn };
  return async (file) =>
    (await runCustomScorer(scorer, file, groundTruth, scorerPredictionsPath(format), columns)).public;
}

/** The perfect sample must score at least as well as the shifted one, in the competition's direction. */
function judgeSample(
  report: SetupReport,
  at: { shown: string; key: string; name: string; direction: "higher" | "lower"; sample: SamplePredictions },
  perfect: number | null,
  shifted: number | null,
): void {
  const { shown, key, name, direction, sample } = at;
  const show = (score: number | null) => (score === null ? "no score" : String(Number(score.toPrecision(6))));
  if (perfect !== null && sample.filled.length > 0) {
    report.notes.push(
      `${key}: ${name} scored ${show(perfect)} on ${sample.rows} rows; the ground truth has no values for ${sample.filled.join(", ")}, so the sample was not the ground truth's own values and its score says nothing about the direction`,
    );
    return;
  }
  if (perfect === null) {
    report.problems.push(
      `${shown}: ${key}: ${name} gave no public score for predictions made from the ground truth's own values; check scoring.usage_column and the ground truth's Public rows`,
    );
    return;
  }
  const worse = shifted !== null && (direction === "higher" ? perfect < shifted : perfect > shifted);
  if (worse) {
    const dirKey = key === "scoring.metric.custom" ? "scoring.metric.custom.direction" : "scoring.direction";
    report.problems.push(
      `${shown}: ${dirKey} says ${direction} is better, but ${name} scored the ground truth's own values ${show(perfect)} ` +
        `and values one row off ${show(shifted)}; fix the direction, or the scorer if it compares the wrong columns`,
    );
    return;
  }
  const line = `${name} on ${sample.rows} rows made from the ground truth: its own values score ${show(perfect)}, values one row off ${show(shifted)}`;
  if (shifted === perfect)
    report.notes.push(`${key}: ${line}: the same, so check that the scorer reads the predictions`);
  else report.passed.push(line);
}

/** A path as the organizer typed it: relative to where proctor runs, when it is below it. */
function relative(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith("..") ? rel : file;
}

async function exists(file: string): Promise<boolean> {
  return (await stat(file).catch(() => null)) !== null;
}
