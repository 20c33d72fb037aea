/**
 * The `run-submission` command, as a self-hosted runner runs it for one dispatch: read the submission from
 * the gateway (runner credential), download the zip of its attempt, run, validate and score it, report the
 * result to the gateway, then record it on the leaderboard branch.
 *
 * Everything this prints, the job summary, the outputs, the commit status and the comment are public: they
 * carry the status, the public score rounded to the competition's precision, durations and ids, never the
 * program's output, its reason text or the format problems (a program can put hidden test data in those;
 * its owner reads them on the gateway), and never the runner credential (masked before anything runs).
 */
import * as core from "@actions/core";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { imageRef, loadCompetition, type Competition } from "../config/index.js";
import {
  downloadAttempt,
  finalReport,
  GatewayApiError,
  runnerSubmission,
  sendResultReport,
  type GatewayCredentials,
  MAX_RESULTS_JSON_CHARS,
  type RunnerSubmissionView,
  type Usage,
  usageReport,
} from "../gateway-api/index.js";
import {
  commentOnIssue,
  createGitHubClient,
  GitHubLeaderboardStore,
  setCommitStatus,
} from "../github/index.js";
import {
  escapeHtml,
  escapeMarkdown,
  MemoryLeaderboardStore,
  renderStandings,
  roundScore,
  type LeaderboardEntry,
} from "../leaderboard/index.js";
import type { Diagnosis } from "../logs/index.js";
import { evaluateSubmission } from "../pipeline/evaluate.js";
import { CompetitionSetupError } from "../pipeline/preflight.js";
import { readResultsJson } from "../pipeline/results-json.js";
import { EngineError, ensureImage } from "../sandbox/index.js";
import { isInfrastructureFault, type RunStatus } from "../status/index.js";
import { DEFAULT_IMAGE_LIMITS, DEFAULT_ZIP_LIMITS, SubmissionFetchError } from "../submission/index.js";
import { formatBytes, formatDuration } from "../units/index.js";
import { githubContext } from "./github-context.js";
import { InputError, runSubmissionInputs, type RunSubmissionInputs } from "./inputs.js";

/** Tries of the leaderboard-branch write (each already retries its own conflicts). */
const BRANCH_WRITE_TRIES = 3;

/** The leaderboard branch's pages, regenerated from its entries on every post. */
export function leaderboardPages(competition: Competition) {
  return (entries: LeaderboardEntry[]) => {
    // Dated by the newest entry, not by now: the same entries render the same pages (no empty commits).
    const newest = entries.reduce(
      (latest, e) => (e.submittedAt > latest ? e.submittedAt : latest),
      "1970-01-01T00:00:00.000Z",
    );
    const options = { competition: competition.name, generatedAt: new Date(newest) };
    return {
      "README.md": renderStandings(entries, competition.leaderboard, { ...options, format: "markdown" }),
      "index.html": renderStandings(entries, competition.leaderboard, { ...options, format: "html" }),
    };
  };
}

/** What the public surfaces say of an outcome. */
interface Outcome {
  submissionId: string;
  attempt: number;
  status: RunStatus;
  publicScore: number | null;
  durationMs: number;
  imageDigest: string;
  /** Coarse (usageReport): what the run used, shown with the status. */
  usage?: Usage;
}

export async function runSubmissionCommand(): Promise<void> {
  const inputs = runSubmissionInputs();
  const { submissionId, flavour } = inputs;
  // The sealing key given as PEM text (from a secret) replaces the file competition.yml names.
  const competition = await loadCompetition(inputs.config, {
    ...(inputs.sealingPublicKey && { sealingPublicKeyPem: inputs.sealingPublicKey }),
  });
  const context = await githubContext();
  const gateway: GatewayCredentials = { server: inputs.gatewayUrl, token: inputs.runnerCredential };
  const image = inputs.image ?? imageRef(competition, flavour);
  const client = createGitHubClient({ token: inputs.githubToken, baseUrl: context.apiUrl });
  const branch = new GitHubLeaderboardStore({
    client,
    owner: context.owner,
    repo: context.repo,
    branch: inputs.leaderboardBranch,
    render: leaderboardPages(competition),
  });

  const submission = await core
    .group("read the submission from the gateway", () => runnerSubmission(gateway, submissionId))
    .catch((error: unknown) => {
      // 409: cancelled (by its participant or the organizers) before it started: run nothing.
      if (error instanceof GatewayApiError && error.status === 409) {
        core.notice(`submission ${submissionId}: the gateway says not to run it: ${error.message}`);
        return undefined;
      }
      throw error;
    });
  if (!submission) return;
  // The phase it was submitted in (the gateway's record) decides its data and log visibility.
  const phase = submission.phase ?? inputs.phase;
  // A phase's own runner_paths (timeline.phases) first; else the smoke test runs on the public sample in the
  // repository (its full logs show nothing hidden), the evaluation on the hidden set on this runner's disk.
  const paths =
    competition.lifecycle.phases.find((p) => p.name === phase)?.runnerPaths ??
    (phase === "smoke_test" ? competition.paths : competition.runnerPaths);
  if (!paths)
    throw new InputError(
      `${competition.file} has no runner_paths for phase ${phase}: set where this runner keeps the test ` +
        `data and ground truth (runner_paths, or timeline.phases[].runner_paths)`,
    );
  if (submission.state === "final" && submission.result) {
    // A re-run after the result reached the gateway: only the leaderboard branch may still miss it.
    core.notice(
      `submission ${submissionId} already has its final result at the gateway; writing it to the leaderboard branch`,
    );
    const entry = entryFromGateway(submission);
    if (!isInfrastructureFault(entry.status)) await writeBranch(branch, entry);
    return;
  }
  if (inputs.attempt !== null && inputs.attempt !== submission.attempt) {
    core.notice(
      `attempt ${inputs.attempt} of submission ${submissionId} was given up on; the gateway waits for attempt ` +
        `${submission.attempt}, which its own dispatch runs. Nothing to do here.`,
    );
    return;
  }
  const attempt = submission.attempt;
  const posting: Posting = { branch, client, context, inputs };
  /** Ends this attempt before the program ran: reported to the gateway, then published. */
  const endUnrun = async (status: RunStatus, reason: string) => {
    const outcome = { ...unrun(submissionId, attempt), status };
    const reported = await reportToGateway(gateway, outcome, { reason });
    return publish(outcome, reported ? entryOf(outcome, submission, null) : null, posting);
  };

  const work = await mkdtemp(path.join(os.tmpdir(), "proctor-submission-"));
  try {
    // A zip, or the participant's image archive where the competition takes images (submission.kind).
    const zipPath = path.join(
      work,
      competition.submission.kind === "image" ? "algorithm.tar" : "submission.zip",
    );
    try {
      await core.group(`download submission ${submissionId} (attempt ${attempt})`, () =>
        downloadAttempt(gateway, submissionId, attempt, zipPath, {
          maxBytes: maxSubmissionBytes(competition, inputs.maxZipBytes),
          sha256: submission.submission_sha256,
        }),
      );
    } catch (error) {
      if (!(error instanceof SubmissionFetchError)) throw error;
      return await endUnrun(error.status, error.message);
    }

    try {
      // A fresh runner has no runtime image yet: pull it (progress folded in a group), digest recorded. An
      // image submission needs it too: it holds the output folder while it is copied out.
      await core.group(`runtime image ${image}`, () =>
        ensureImage(image, { auth: inputs.registryAuth, onProgress: (line) => core.info(line) }),
      );
    } catch (error) {
      if (!(error instanceof EngineError)) throw error;
      core.error(error.message);
      return await endUnrun(error.status, error.message);
    }

    const evaluation = await core
      .group("run, validate and score", () =>
        evaluateSubmission({
          competition,
          zipPath,
          image,
          participant: submission.participant,
          submissionId,
          submittedAt: new Date(submission.submitted_at),
          phase,
          dataDir: paths.dataDir,
          groundTruth: paths.groundTruth,
          outputDir: path.join(work, "out"),
          // The gateway is written first and the branch after it (writeBranch), so the run records nowhere.
          store: new MemoryLeaderboardStore(),
          gpu: flavour === "gpu",
        }),
      )
      .catch((error: unknown) => {
        if (!(error instanceof CompetitionSetupError)) throw error;
        // The organizer's mistake, found before anything ran: never the participant's, never counted.
        core.error(error.message);
        return null;
      });
    if (!evaluation)
      return await endUnrun(
        "infrastructure_error",
        "the competition's setup on the runner is incomplete (the organizers are told)",
      );
    const outcome: Outcome = {
      submissionId,
      attempt,
      status: evaluation.status,
      publicScore: roundScore(evaluation.scores.public, competition.leaderboard.precision),
      durationMs: evaluation.run.durationMs,
      imageDigest: evaluation.entry.imageDigest,
      ...(evaluation.run.metrics && {
        usage: usageReport(evaluation.run.metrics, {
          runtime: evaluation.run.runtime,
          memoryLimitBytes: evaluation.run.limits.memoryBytes,
          cpus: evaluation.run.limits.cpus,
        }),
      }),
    };
    const reported = await reportToGateway(gateway, outcome, {
      reason: evaluation.reason,
      sealedPrivateScore: evaluation.entry.sealedPrivateScore,
      stdout: evaluation.logs.stdout,
      stderr: evaluation.logs.stderr,
      problems: evaluation.problems,
      diagnosis: evaluation.diagnosis,
      ...(evaluation.logs.visibility !== "none" && {
        resultsJson:
          (await readResultsJson(
            path.join(work, "out", evaluation.expectedOutput),
            MAX_RESULTS_JSON_CHARS,
          )) ?? undefined,
      }),
    });
    const entry = entryOf(outcome, submission, evaluation.entry.sealedPrivateScore);
    await publish(outcome, reported ? entry : null, posting);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** An outcome before anything ran. */
const unrun = (submissionId: string, attempt: number) => ({
  submissionId,
  attempt,
  publicScore: null,
  durationMs: 0,
  imageDigest: "",
});

/** The largest submission this runner downloads: the input's cap, else the competition's for its kind. */
function maxSubmissionBytes(competition: Competition, fromInput: number | undefined): number {
  if (fromInput !== undefined) return fromInput;
  const submission = competition.submission;
  if (submission.kind === "image")
    return submission.image.limits.maxArchiveBytes ?? DEFAULT_IMAGE_LIMITS.maxArchiveBytes;
  return competition.zipLimits.maxZipBytes ?? DEFAULT_ZIP_LIMITS.maxZipBytes;
}

function entryOf(
  outcome: Outcome,
  submission: RunnerSubmissionView,
  sealedPrivateScore: string | null,
): LeaderboardEntry {
  const succeeded = outcome.status === "succeeded";
  return {
    submissionId: outcome.submissionId,
    participant: submission.participant,
    submittedAt: new Date(submission.submitted_at).toISOString(),
    status: outcome.status,
    publicScore: succeeded ? outcome.publicScore : null,
    privateScore: null,
    sealedPrivateScore: succeeded ? sealedPrivateScore : null,
    durationMs: outcome.durationMs,
    imageDigest: outcome.imageDigest,
    zipSha256: submission.submission_sha256,
  };
}

function entryFromGateway(submission: RunnerSubmissionView): LeaderboardEntry {
  const result = submission.result!;
  return entryOf(
    {
      submissionId: submission.submission_id,
      attempt: submission.attempt,
      status: result.status,
      publicScore: result.public_score,
      durationMs: result.duration_ms,
      imageDigest: result.image_digest,
    },
    submission,
    result.private_score_sealed,
  );
}

/**
 * Reports the outcome to the gateway, before anything else is written: the gateway is what participants
 * read. True when recorded; false when the gateway already had a result or moved to another attempt (that
 * attempt writes the branch). An infrastructure_error is reported without logs: the gateway runs the
 * submission again or, when its attempts are used up, ends it without counting it.
 */
async function reportToGateway(
  gateway: GatewayCredentials,
  outcome: Outcome,
  details: {
    reason: string;
    sealedPrivateScore?: string | null;
    stdout?: string;
    stderr?: string;
    problems?: string[];
    diagnosis?: Diagnosis;
    resultsJson?: string | undefined;
  },
): Promise<boolean> {
  const report = finalReport({
    attempt: outcome.attempt,
    status: outcome.status,
    reason: details.reason,
    publicScore: outcome.publicScore,
    sealedPrivateScore: details.sealedPrivateScore ?? null,
    durationMs: outcome.durationMs,
    imageDigest: outcome.imageDigest,
    ...(outcome.usage && { usage: outcome.usage }),
    ...(details.stdout !== undefined && { stdout: details.stdout }),
    ...(details.stderr !== undefined && { stderr: details.stderr }),
    ...(details.problems !== undefined && { problems: details.problems }),
    ...(details.diagnosis !== undefined && { diagnosis: details.diagnosis }),
    ...(details.resultsJson !== undefined && { resultsJson: details.resultsJson }),
  });
  const sent = await core.group("report the result to the gateway", () =>
    sendResultReport(gateway, outcome.submissionId, report),
  );
  if (sent.outcome === "conflict") {
    core.notice(`the gateway did not take this result: ${sent.message}`);
    return false;
  }
  return true;
}

/**
 * The branch write, after the gateway has the result: retried as a whole (each try retries its own
 * conflicts). When it still fails the job fails, and re-running it writes the gateway's result.
 */
async function writeBranch(branch: GitHubLeaderboardStore, entry: LeaderboardEntry): Promise<boolean> {
  for (let tryNumber = 1; ; tryNumber += 1) {
    try {
      await core.group("record the result on the leaderboard branch", () => branch.record(entry));
      return true;
    } catch (error) {
      if (tryNumber >= BRANCH_WRITE_TRIES) {
        core.setFailed(
          `the result is safe at the gateway, but the leaderboard branch could not be written ` +
            `(${(error as Error).message}); re-run this job to write it`,
        );
        return false;
      }
      core.warning(
        `leaderboard branch write ${tryNumber} failed (${(error as Error).message}); trying again`,
      );
    }
  }
}

/** Runtime, peak memory and CPU time (already coarse) for the job summary. */
function usageRows(usage: Usage | undefined): string[][] {
  if (!usage) return [];
  return [
    ["runtime", escapeHtml(usage.runtime)],
    ["peak memory", usage.peak_memory_bytes === null ? "—" : formatBytes(usage.peak_memory_bytes)],
    ["CPU time", usage.cpu_seconds === null ? "—" : `${usage.cpu_seconds} s`],
  ];
}

interface Posting {
  branch: GitHubLeaderboardStore;
  client: ReturnType<typeof createGitHubClient>;
  context: Awaited<ReturnType<typeof githubContext>>;
  inputs: RunSubmissionInputs;
}

/**
 * The branch (when the gateway took the result and it counts), outputs, the job summary, a commit status
 * and a comment where asked; infrastructure errors fail the job.
 */
async function publish(outcome: Outcome, entry: LeaderboardEntry | null, p: Posting): Promise<void> {
  const infrastructure = isInfrastructureFault(outcome.status);
  if (entry && !infrastructure) await writeBranch(p.branch, entry);
  const score = outcome.publicScore === null ? "" : String(outcome.publicScore);
  core.setOutput("submission-id", outcome.submissionId);
  core.setOutput("status", outcome.status);
  core.setOutput("public-score", score);
  core.setOutput("duration-ms", outcome.durationMs);
  core.setOutput("image-digest", outcome.imageDigest);

  // The job summary is HTML (core.summary); the comment below is Markdown.
  const cell = (text: string) => escapeHtml(text);
  await core.summary
    .addHeading(`Submission ${cell(outcome.submissionId)}`, 3)
    .addTable([
      [
        { data: "", header: true },
        { data: "", header: true },
      ],
      ["status", cell(outcome.status)],
      ["attempt", String(outcome.attempt)],
      ["public score", score || "—"],
      ["duration", formatDuration(outcome.durationMs)],
      ...usageRows(outcome.usage),
      ["image", cell(outcome.imageDigest || "—")],
    ])
    .addRaw(
      "The participant reads the reason and what their program printed on the gateway; a public run log " +
        "never shows them.",
      true,
    )
    .write();

  const { statusSha, issueNumber, flavour } = p.inputs;
  const description = `${outcome.status}${score ? `: public score ${score}` : ""}`;
  // The result is already at the gateway: a notification that fails is worth a warning, not a re-run.
  const warnIfFails = (what: string) => (error: unknown) =>
    core.warning(`could not ${what}: ${(error as Error).message}`);
  if (statusSha) {
    await setCommitStatus(p.client, {
      owner: p.context.owner,
      repo: p.context.repo,
      sha: statusSha,
      state: outcome.status === "succeeded" ? "success" : infrastructure ? "error" : "failure",
      context: `proctor/submission (${flavour})`,
      description,
      ...(p.context.runUrl && { targetUrl: p.context.runUrl }),
    }).catch(warnIfFails("set the commit status"));
  }
  if (issueNumber !== undefined) {
    await commentOnIssue(p.client, {
      owner: p.context.owner,
      repo: p.context.repo,
      issueNumber,
      body: `Submission \`${outcome.submissionId}\`: **${escapeMarkdown(description)}**${p.context.runUrl ? ` ([run](${p.context.runUrl}))` : ""}`,
    }).catch(warnIfFails(`comment on #${issueNumber}`));
  }
  if (infrastructure)
    core.setFailed(
      "infrastructure error: the gateway runs the submission again, or ends it without counting it",
    );
}
