import { Command, Option } from "commander";
import cliProgress from "cli-progress";
import { stat } from "node:fs/promises";
import {
  CredentialsError,
  describeQueuePlace,
  GatewayApiError,
  resolveCredentials,
  uploadSubmission,
  waitForFinal,
  type GatewayCredentials,
  type QuotaView,
  type SubmissionView,
} from "../gateway-api/index.js";
import { formatScore } from "../leaderboard/index.js";
import { printable } from "../logs/printable.js";
import { EXIT_CODES, exitCodeFor } from "../status/index.js";
import { formatBytes, formatDuration, parseDuration } from "../units/index.js";
import { unitArg, UsageError } from "./usage-error.js";

/** The --server/--token options `submit` and `status` share. */
export function gatewayOptions(command: Command): Command {
  return command
    .option("--server <url>", "the competition's gateway (default $PROCTOR_SERVER, or the credentials file)")
    .option(
      "--token <token>",
      "your participant token (default $PROCTOR_TOKEN, or ~/.config/proctor/credentials.json)",
    )
    .option("--json", "print exactly one JSON object", false);
}

export async function gatewayCredentials(flags: {
  server?: string;
  token?: string;
}): Promise<GatewayCredentials> {
  try {
    const resolved = await resolveCredentials({
      ...(flags.server !== undefined && { server: flags.server }),
      ...(flags.token !== undefined && { token: flags.token }),
    });
    return { server: resolved.server, token: resolved.token };
  } catch (error) {
    if (error instanceof CredentialsError) throw new UsageError(error.message);
    throw error;
  }
}

/**
 * Reports a refusal of the gateway: a bad token is a usage error (exit 2); refusals of the submission
 * (422, 413, 429, 404) are the participant's (exit 1); an unreachable or failing gateway is exit 3.
 */
export function reportGatewayError(error: unknown, json: boolean): void {
  if (!(error instanceof GatewayApiError)) throw error;
  if (error.status === 401) throw new UsageError(`the gateway refused the token: ${error.message}`);
  const code =
    error.status === undefined || error.status >= 500
      ? EXIT_CODES.infrastructureError
      : EXIT_CODES.participantFailure;
  if (json) {
    process.stdout.write(
      `${JSON.stringify(error.body ?? { error: error.status === undefined ? "unreachable" : "error", message: error.message })}\n`,
    );
  }
  process.stderr.write(`proctor: ${error.message}\n`);
  process.exitCode = code;
}

export function describeQuota(quota: QuotaView): string {
  const today =
    quota.daily_limit === null
      ? `${quota.used_today} today (no daily limit)`
      : `${quota.remaining_today} of ${quota.daily_limit} left today${quota.resets_at ? ` (resets ${quota.resets_at})` : ""}`;
  const total =
    quota.total_limit === null
      ? "no total limit"
      : `${quota.remaining_total} of ${quota.total_limit} left in total`;
  return `submissions: ${today}; ${total}`;
}

/** The public score with the competition's precision in decimals, as the pages show it (23.820, not 23.82). */
export function shownScore(view: Pick<SubmissionView, "public_score" | "score_precision">): string {
  return view.public_score === null ? "—" : formatScore(view.public_score, view.score_precision);
}

/** A submission as text: one headline, then what the participant may see. */
export function describeSubmission(view: SubmissionView): string {
  const lines: string[] = [];
  if (view.state === "cancelled") {
    lines.push(`${view.submission_id}: cancelled before it started (it does not count against your limits)`);
  } else if (view.state !== "final") {
    const d = view.dispatch;
    const dispatch =
      d.state === "sent"
        ? ""
        : d.attempts === 0
          ? "; being handed to the runners"
          : `; not yet handed to the runners (${d.attempts} tries failed; retried by itself${d.next_attempt_at ? ` at ${d.next_attempt_at}` : ""})`;
    lines.push(`${view.submission_id}: ${view.state}${dispatch} (submitted ${view.submitted_at})`);
  } else {
    const score = view.public_score === null ? "" : ` — public score ${shownScore(view)}`;
    const took = view.duration_ms ? ` in ${formatDuration(view.duration_ms)}` : "";
    lines.push(`${view.submission_id}: ${view.status}${score}${took}`);
    if (view.reason) lines.push(`  ${printable(view.reason)}`);
  }
  if (view.disqualified) lines.push(`  disqualified by the organizers: ${printable(view.disqualified)}`);
  if (view.earlier_attempts.length > 0) {
    for (const a of view.earlier_attempts)
      lines.push(`  attempt ${a.attempt}: ${a.status} (${printable(a.reason ?? "")})`);
  }
  // What the program produced reaches the terminal without its control characters.
  for (const problem of view.problems) lines.push(`  - ${printable(problem)}`);
  for (const [name, text] of [
    ["stdout", view.logs.stdout],
    ["stderr", view.logs.stderr],
  ] as const) {
    if (!text) continue;
    lines.push(`  ${name}${view.logs.visibility === "tail" ? " (last lines)" : ""}:`);
    for (const line of text.split("\n")) lines.push(`    ${printable(line)}`);
  }
  return lines.join("\n");
}

const waitDuration = unitArg((value): number => (value.trim() === "0" ? 0 : parseDuration(value, "--wait")));

interface SubmitFlags {
  server?: string;
  token?: string;
  json: boolean;
  cpuOrGpu: "cpu" | "gpu";
  wait: number;
  model?: string;
}

export function submitCommand(): Command {
  return gatewayOptions(
    new Command("submit")
      .description("upload a submission zip to the competition's gateway, then wait for its result")
      .argument(
        "<zip>",
        "the submission zip (`proctor pack` makes one), or your image saved with `docker save` where the competition takes images",
      ),
  )
    .addOption(
      new Option("--cpu-or-gpu <kind>", "which runners run it").choices(["cpu", "gpu"]).default("cpu"),
    )
    .option(
      "--model <model.tar.gz>",
      "a model tarball sent with your image, shown to it at /opt/ml/model (Grand Challenge's contract; " +
        "make it with `tar -czf model.tar.gz -C model .`)",
    )
    .addOption(
      new Option("--wait <duration>", "how long to wait for the result (0: do not wait)")
        .default(30 * 60_000, "30m")
        .argParser(waitDuration),
    )
    .action(async (zip: string, flags: SubmitFlags) => {
      const info = await stat(zip).catch(() => undefined);
      if (!info?.isFile())
        throw new UsageError(`${zip}: no such file; pass the submission zip (proctor pack makes one)`);
      const model = flags.model === undefined ? undefined : await stat(flags.model).catch(() => undefined);
      if (flags.model !== undefined && !model?.isFile())
        throw new UsageError(
          `--model ${flags.model}: no such file; pass your model tarball (tar -czf model.tar.gz -C model .)`,
        );
      const size = info.size + (model?.size ?? 0);
      const credentials = await gatewayCredentials(flags);

      const showProgress = process.stderr.isTTY === true && !flags.json;
      const bar = showProgress
        ? new cliProgress.SingleBar(
            {
              stream: process.stderr,
              format: "uploading [{bar}] {percentage}% | {sent} of {size} | {speed}",
              hideCursor: true,
              clearOnComplete: true,
            },
            cliProgress.Presets.shades_classic,
          )
        : undefined;
      const started = Date.now();
      bar?.start(size, 0, { sent: formatBytes(0), size: formatBytes(size), speed: "" });
      let submitted;
      try {
        submitted = await uploadSubmission(credentials, {
          zipPath: zip,
          ...(flags.model !== undefined && { modelPath: flags.model }),
          cpuOrGpu: flags.cpuOrGpu,
          onProgress: (sent) => {
            const seconds = Math.max(0.001, (Date.now() - started) / 1000);
            bar?.update(sent, { sent: formatBytes(sent), speed: `${formatBytes(sent / seconds)}/s` });
          },
        });
      } catch (error) {
        bar?.stop();
        return reportGatewayError(error, flags.json);
      }
      bar?.stop();
      const { submission } = submitted;
      if (!flags.json) {
        process.stderr.write(
          `submitted ${zip} (${formatBytes(submission.zip_bytes)}, sha256 ${submission.zip_sha256.slice(0, 12)}…) ` +
            (flags.model !== undefined ? `with the model ${flags.model} ` : "") +
            `as ${submission.submission_id}\n${describeQuota(submitted.quota)}\n`,
        );
      }
      if (flags.wait === 0) {
        process.stdout.write(
          flags.json ? `${JSON.stringify(submitted)}\n` : `${describeSubmission(submission)}\n`,
        );
        return;
      }

      if (!flags.json)
        process.stderr.write(`waiting for the result (up to ${formatDuration(flags.wait)})...\n`);
      // Said when it changes: the place in the queue (and the wait), then the runner it runs on.
      let lastSaid = "";
      let view: SubmissionView;
      try {
        view = await waitForFinal(credentials, submission.submission_id, {
          timeoutMs: flags.wait,
          onUpdate: (v) => {
            if (flags.json || v.state === "final") return;
            const said = describeQueuePlace(v) ?? `${v.state}...`;
            if (said !== lastSaid) process.stderr.write(`${printable(said)}\n`);
            lastSaid = said;
          },
        });
      } catch (error) {
        return reportGatewayError(error, flags.json);
      }
      process.stdout.write(flags.json ? `${JSON.stringify(view)}\n` : `${describeSubmission(view)}\n`);
      if (view.state === "final" && view.status) {
        process.exitCode = exitCodeFor(view.status);
      } else if (view.state === "cancelled") {
        process.exitCode = EXIT_CODES.participantFailure;
      } else {
        process.stderr.write(
          `still ${view.state} after ${formatDuration(flags.wait)}; it goes on: \`proctor status ` +
            `${view.submission_id}\` shows the result later\n`,
        );
        process.exitCode = EXIT_CODES.infrastructureError;
      }
    });
}
