import * as core from "@actions/core";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { imageRef, loadCompetition, type Competition } from "../config/index.js";
import {
  commentOnIssue,
  createGitHubClient,
  GitHubLeaderboardStore,
  setCommitStatus,
} from "../github/index.js";
import { rankEntries } from "../leaderboard/ranking.js";
import { renderHtml } from "../leaderboard/render-html.js";
import { renderMarkdown } from "../leaderboard/render-markdown.js";
import type { LeaderboardEntry } from "../leaderboard/entry.js";
import { evaluateSubmission, type Evaluation } from "../pipeline/evaluate.js";
import { isInfrastructureFault, type RunStatus } from "../status/index.js";
import {
  DEFAULT_ZIP_LIMITS,
  downloadSubmission,
  redactUrl,
  SubmissionFetchError,
} from "../submission/index.js";
import { formatDuration } from "../units/index.js";
import { sendResultReport } from "../intake/report-client.js";
import { finalReport } from "../intake/result-report.js";
import { githubContext } from "./github-context.js";
import { InputError, oneOf, optional, required, size } from "./inputs.js";

const SUBMISSION_ID = /^[A-Za-z0-9._-]{1,100}$/;

/** The leaderboard branch's pages, regenerated from its entries on every post. */
export function leaderboardPages(competition: Competition) {
  return (entries: LeaderboardEntry[]) => {
    const standings = rankEntries(entries, competition.leaderboard);
    // Dated by the newest entry, not by now: the same entries render the same pages (no empty commits).
    const newest = entries.reduce(
      (latest, e) => (e.submittedAt > latest ? e.submittedAt : latest),
      "1970-01-01T00:00:00.000Z",
    );
    const options = { competition: competition.name, generatedAt: new Date(newest) };
    return { "README.md": renderMarkdown(standings, options), "index.html": renderHtml(standings, options) };
  };
}

export async function runSubmissionCommand(): Promise<void> {
  const command = "run-submission";
  const competition = await loadCompetition(core.getInput("config") || "competition.yml");
  const context = await githubContext();
  const submissionId = required("submission-id", command);
  if (!SUBMISSION_ID.test(submissionId))
    throw new InputError(
      `input "submission-id" must match ${SUBMISSION_ID}, got ${JSON.stringify(submissionId)}`,
    );
  const url = required("submission-url", command);
  const sha256 = required("submission-sha256", command).toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(sha256))
    throw new InputError(`input "submission-sha256" must be 64 hex characters`);
  const participant = required("participant", command);
  const flavour = oneOf("cpu-or-gpu", ["cpu", "gpu"] as const, "cpu");
  const phase = oneOf("phase", ["evaluation", "smoke_test"] as const, "evaluation");
  const submittedAt = new Date(optional("submitted-at") ?? Date.now());
  if (Number.isNaN(submittedAt.getTime()))
    throw new InputError(`input "submitted-at" must be an ISO 8601 date-time`);
  const runner = competition.runnerPaths;
  if (!runner)
    throw new InputError(
      `${competition.file} has no runner_paths: set where this runner keeps the test data and ground truth`,
    );
  const image = optional("image") ?? imageRef(competition, flavour);
  const token = required("github-token", command);
  core.setSecret(token);

  const client = createGitHubClient({ token, baseUrl: context.apiUrl });
  const sealingKey = optional("sealing-public-key");
  const store = new GitHubLeaderboardStore({
    client,
    owner: context.owner,
    repo: context.repo,
    branch: core.getInput("leaderboard-branch") || "leaderboard",
    render: leaderboardPages(competition),
  });
  const competitionWithKey = sealingKey ? await withSealingKey(competition, sealingKey) : competition;

  const work = await mkdtemp(path.join(os.tmpdir(), "proctor-submission-"));
  let evaluation: Evaluation | null = null;
  let status: RunStatus;
  let reason: string;
  try {
    const zipPath = path.join(work, "submission.zip");
    try {
      await core.group(`download ${redactUrl(url)}`, () =>
        downloadSubmission(url, zipPath, { maxBytes: maxZipBytes(competition), sha256 }),
      );
    } catch (error) {
      if (!(error instanceof SubmissionFetchError)) throw error;
      await store.record(unrunEntry(submissionId, participant, submittedAt, error.status, sha256));
      status = error.status;
      reason = error.message;
      return await report({
        submissionId,
        status,
        reason,
        evaluation: null,
        token,
        context,
        client,
        flavour,
      });
    }
    evaluation = await core.group("run, validate and score", () =>
      evaluateSubmission({
        competition: competitionWithKey,
        zipPath,
        image,
        participant,
        submissionId,
        submittedAt,
        phase,
        dataDir: runner.dataDir,
        groundTruth: runner.groundTruth,
        store,
        gpu: flavour === "gpu",
      }),
    );
    status = evaluation.status;
    reason = evaluation.reason;
    await report({ submissionId, status, reason, evaluation, token, context, client, flavour });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function maxZipBytes(competition: Competition): number {
  return core.getInput("max-zip-size")
    ? size("max-zip-size", "1g")
    : (competition.zipLimits.maxZipBytes ?? DEFAULT_ZIP_LIMITS.maxZipBytes);
}

async function withSealingKey(competition: Competition, pem: string): Promise<Competition> {
  const { writeFile } = await import("node:fs/promises");
  const file = path.join(await mkdtemp(path.join(os.tmpdir(), "proctor-key-")), "sealing.pub.pem");
  await writeFile(file, pem);
  return { ...competition, leaderboard: { ...competition.leaderboard, sealingPublicKey: file } };
}

function unrunEntry(
  submissionId: string,
  participant: string,
  submittedAt: Date,
  status: RunStatus,
  sha256: string,
): LeaderboardEntry {
  return {
    submissionId,
    participant,
    submittedAt: submittedAt.toISOString(),
    status,
    publicScore: null,
    privateScore: null,
    sealedPrivateScore: null,
    durationMs: 0,
    imageDigest: "",
    zipSha256: sha256,
  };
}

interface Report {
  submissionId: string;
  status: RunStatus;
  reason: string;
  evaluation: Evaluation | null;
  token: string;
  context: Awaited<ReturnType<typeof githubContext>>;
  client: ReturnType<typeof createGitHubClient>;
  flavour: string;
}

/** Outputs, the job summary, a commit status and a comment where asked; infrastructure errors fail the job. */
async function report(r: Report): Promise<void> {
  const e = r.evaluation;
  core.setOutput("submission-id", r.submissionId);
  core.setOutput("status", r.status);
  core.setOutput("reason", r.reason);
  core.setOutput("public-score", e?.scores.public ?? "");
  core.setOutput("duration-ms", e?.run.durationMs ?? 0);
  core.setOutput("image-digest", e?.run.image?.digest ?? e?.run.image?.id ?? "");

  const rows = [
    ["status", r.status],
    ["reason", r.reason],
    ["public score", e?.scores.public?.toString() ?? "—"],
    ["private score", e && e.scores.private !== null ? "sealed" : "—"],
    ["duration", e ? formatDuration(e.run.durationMs) : "—"],
    ["image", e?.run.image ? `${e.run.image.ref} (${e.run.image.digest ?? e.run.image.id})` : "—"],
  ];
  const summary = core.summary.addHeading(`Submission ${r.submissionId}`, 3).addTable([
    [
      { data: "", header: true },
      { data: "", header: true },
    ],
    ...rows,
  ]);
  if (e?.problems.length) summary.addList(e.problems);
  if (e && e.logs.visibility !== "none") {
    if (e.logs.stderr) summary.addDetails("stderr", `<pre>${escapeHtml(e.logs.stderr)}</pre>`);
    if (e.logs.stdout) summary.addDetails("stdout", `<pre>${escapeHtml(e.logs.stdout)}</pre>`);
  }
  await summary.write();

  const statusSha = optional("status-sha");
  const issueNumber = optional("issue-number");
  const description = `${r.status}${e?.scores.public != null ? `: public score ${e.scores.public}` : ""}`;
  // The result is already on the leaderboard: a notification that fails is worth a warning, not a re-run.
  const warnIfFails = (what: string) => (error: unknown) =>
    core.warning(`could not ${what}: ${(error as Error).message}`);
  if (statusSha) {
    await setCommitStatus(r.client, {
      owner: r.context.owner,
      repo: r.context.repo,
      sha: statusSha,
      state: r.status === "succeeded" ? "success" : isInfrastructureFault(r.status) ? "error" : "failure",
      context: `proctor/submission (${r.flavour})`,
      description,
      ...(r.context.runUrl && { targetUrl: r.context.runUrl }),
    }).catch(warnIfFails("set the commit status"));
  }
  if (issueNumber && /^\d+$/.test(issueNumber)) {
    await commentOnIssue(r.client, {
      owner: r.context.owner,
      repo: r.context.repo,
      issueNumber: Number(issueNumber),
      body: `Submission \`${r.submissionId}\`: **${r.status}**. ${r.reason}${r.context.runUrl ? ` ([run](${r.context.runUrl}))` : ""}`,
    }).catch(warnIfFails(`comment on #${issueNumber}`));
  }
  await reportToIntake(r);
  if (isInfrastructureFault(r.status)) core.setFailed(`infrastructure error (re-run this job): ${r.reason}`);
}

/**
 * Tells the intake gateway how the submission ended (when it dispatched it), authenticated with the
 * per-submission secret from the dispatch payload; the logs sent are those the phase lets participants see.
 */
async function reportToIntake(r: Report): Promise<void> {
  const resultUrl = optional("result-url");
  const resultToken = optional("result-token");
  if (!resultUrl || !resultToken) return;
  core.setSecret(resultToken);
  const e = r.evaluation;
  const report = finalReport({
    status: r.status,
    reason: r.reason,
    publicScore: e?.scores.public ?? null,
    sealedPrivateScore: e?.entry.sealedPrivateScore ?? null,
    durationMs: e?.run.durationMs ?? 0,
    imageDigest: e?.entry.imageDigest ?? "",
    ...(e && { stdout: e.logs.stdout, stderr: e.logs.stderr, problems: e.problems }),
  });
  const sent = await sendResultReport({ resultUrl, resultToken, report }).catch((error: Error) => error);
  if (sent instanceof Error)
    core.warning(
      `could not report the result to the intake (${sent.message}); its sweeper will re-dispatch the run`,
    );
  else if (sent.outcome === "conflict") core.info(`the intake already had a final result: ${sent.message}`);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
