/**
 * The `run-submission` command, as a self-hosted runner runs it for one dispatch: read the submission from
 * the gateway (runner credential), claim it by id (the claim every runner makes: whoever claims first runs
 * it), then the one claimed run (runner/run-claim.ts: download, run, validate, score, report, heartbeats),
 * then record it on the leaderboard branch.
 *
 * Everything this prints, the job summary, the outputs, the commit status and the comment are public: they
 * carry the status, the public score rounded to the competition's precision, durations and ids, never the
 * program's output, its reason text or the format problems (a program can put hidden test data in those;
 * its owner reads them on the gateway), and never the runner credential (masked before anything runs).
 */
import * as core from "@actions/core";
import { imageRef, loadCompetition, type Competition } from "../config/index.js";
import {
  claimById,
  GatewayApiError,
  runnerSubmission,
  type GatewayCredentials,
  type RunnerSubmissionView,
  type Usage,
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
  renderStandings,
  type LeaderboardEntry,
  type RenderOptions,
} from "../leaderboard/index.js";
import { entryOf, runClaim, runnerPaths, type Outcome } from "../runner/index.js";
import { isInfrastructureFault } from "../status/index.js";
import { formatBytes, formatDuration } from "../units/index.js";
import { githubContext } from "./github-context.js";
import { InputError, runSubmissionInputs, type RunSubmissionInputs } from "./inputs.js";

/** Tries of the leaderboard-branch write (each already retries its own conflicts). */
const BRANCH_WRITE_TRIES = 3;

/**
 * The leaderboard branch's pages, regenerated from its entries on every post; each row's image digest links
 * to `records.imageRecordUrl` (runtime/published.json on the repository) and its models digest to
 * `records.modelsRecordUrl` (the same record, whose entries name the models image published with each) when given. Where entries name phases, each phase has its
 * own board (`phases/<name>.md`), and README.md and index.html show the newest entry's phase (the current
 * one): practice entries never share a board with the final phase's.
 */
export function leaderboardPages(
  competition: Competition,
  records: Pick<RenderOptions, "imageRecordUrl" | "modelsRecordUrl"> = {},
) {
  return (entries: LeaderboardEntry[]): Record<string, string> => {
    // Dated by the newest entry, not by now: the same entries render the same pages (no empty commits).
    const newest = entries.reduce(
      (latest, e) => (e.submittedAt > latest ? e.submittedAt : latest),
      "1970-01-01T00:00:00.000Z",
    );
    const options = {
      competition: competition.name,
      generatedAt: new Date(newest),
      ...records,
    };
    // Entries recorded before phases were (none named) count in every phase's board.
    const of = (phase: string | undefined) =>
      phase === undefined ? entries : entries.filter((e) => e.phase === undefined || e.phase === phase);
    const render = (phase: string | undefined, format: "markdown" | "html") =>
      renderStandings(of(phase), competition.leaderboard, { ...options, ...(phase && { phase }), format });
    const shown = entries.find((e) => e.submittedAt === newest && e.phase !== undefined)?.phase;
    const phases = [...new Set(entries.flatMap((e) => (e.phase === undefined ? [] : [e.phase])))].sort();
    return {
      "README.md": render(shown, "markdown"),
      "index.html": render(shown, "html"),
      ...Object.fromEntries(phases.map((phase) => [`phases/${phase}.md`, render(phase, "markdown")])),
    };
  };
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
  const repositoryUrl = `${context.serverUrl}/${context.owner}/${context.repo}`;
  const branch = new GitHubLeaderboardStore({
    client,
    owner: context.owner,
    repo: context.repo,
    branch: inputs.leaderboardBranch,
    // blob/HEAD: the default branch, where the runtime workflow commits the record and models.yml lives.
    render: leaderboardPages(competition, {
      imageRecordUrl: `${repositoryUrl}/blob/HEAD/runtime/published.json`,
      modelsRecordUrl: `${repositoryUrl}/blob/HEAD/runtime/published.json`,
    }),
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
  const paths = runnerPaths(competition, phase);
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
  // The same claim as every runner's: where pull runners serve the competition too, whoever claims first
  // runs it, and this job, losing, runs and writes nothing.
  const claimed = await core.group(`claim submission ${submissionId} (attempt ${submission.attempt})`, () =>
    claimById(gateway, submissionId, {
      attempt: submission.attempt,
      runner: `github-actions/${process.env["GITHUB_RUN_ID"] ?? "run"}`,
    }),
  );
  if (claimed.outcome === "lost") {
    core.notice(`submission ${submissionId}: not run here: ${claimed.message}`);
    return;
  }
  const result = await runClaim({
    gateway,
    claim: claimed.claim,
    competition,
    image,
    registryAuth: inputs.registryAuth,
    gpu: flavour === "gpu",
    paths,
    phase,
    maxZipBytes: inputs.maxZipBytes,
    hooks: {
      step: (title, work) => core.group(title, work),
      progress: (line) => core.info(line),
      notice: (message) => core.notice(message),
      error: (message) => core.error(message),
    },
  });
  if (result.ended !== "reported") {
    // Cancelled, or the claim was lost to another runner: its containers are gone; write nothing.
    core.notice(
      `submission ${submissionId}: stopped (${result.ended === "stopped" ? result.message : "released"})`,
    );
    return;
  }
  await publish(result.outcome, result.recorded ? result.entry : null, { branch, client, context, inputs });
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
      ...(result.models_digest && { modelsDigest: result.models_digest }),
    },
    submission,
    result.private_score_sealed,
  );
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
      ...(outcome.modelsDigest ? [["models", cell(outcome.modelsDigest)]] : []),
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
