import type { SubmissionRunResult } from "../pipeline/run-submission.js";
import { describeLimits } from "../sandbox/index.js";
import { formatBytes, formatDuration } from "../units/index.js";

/** The one JSON object `proctor run --json` prints. */
export function runResultJson(result: SubmissionRunResult) {
  return {
    run_id: result.runId,
    status: result.status,
    reason: result.reason,
    exit_code: result.exitCode,
    duration_ms: result.durationMs,
    image: result.image && { ref: result.image.ref, id: result.image.id, digest: result.image.digest },
    submission_sha256: result.submissionSha256,
    limits: {
      time_limit_ms: result.limits.timeLimitMs,
      grace_ms: result.limits.graceMs,
      memory_bytes: result.limits.memoryBytes,
      cpus: result.limits.cpus,
      pids: result.limits.pids,
      shm_bytes: result.limits.shmBytes,
      tmp_bytes: result.limits.tmpBytes,
      output_bytes: result.limits.outputBytes,
      output_files: result.limits.outputFiles,
    },
    stdout: result.stdout.text,
    stderr: result.stderr.text,
    stdout_bytes: result.stdout.bytes,
    stderr_bytes: result.stderr.bytes,
    stdout_line_count: result.stdout.lines,
    stderr_line_count: result.stderr.lines,
    stdout_truncated: result.stdout.truncated,
    stderr_truncated: result.stderr.truncated,
    output_files: result.output?.files ?? [],
    output_skipped: result.output?.skipped ?? [],
  };
}

const MARK: Record<string, string> = { succeeded: "✔", infrastructure_error: "⚠" };

/** A few lines for a person: what happened, why, and what the program said last. */
export function runResultText(result: SubmissionRunResult, tailLines = 10): string {
  const lines: string[] = [];
  const exit = result.exitCode === null ? "" : `, exit code ${result.exitCode}`;
  lines.push(`${MARK[result.status] ?? "✘"} ${result.status} in ${formatDuration(result.durationMs)}${exit}`);
  lines.push(`  why     ${result.reason}`);
  if (result.image) {
    lines.push(`  image   ${result.image.ref} (${result.image.digest ?? result.image.id})`);
  }
  if (result.submissionSha256) lines.push(`  zip     sha256:${result.submissionSha256}`);
  const limits = Object.entries(describeLimits(result.limits)).map(([k, v]) => `${k} ${v}`);
  lines.push(`  limits  ${limits.join(", ")}`);
  if (result.output) {
    const files = result.output.files.map((f) => `${f.path} (${formatBytes(f.bytes)})`);
    lines.push(`  output  ${files.length > 0 ? files.join(", ") : "(none)"}`);
    for (const skipped of result.output.skipped)
      lines.push(`  warning: not copied: ${skipped.path} (${skipped.type})`);
  }
  if (result.stderr.lines > 0) {
    lines.push(`stderr (${result.stderr.lines} lines${result.stderr.truncated ? ", cut" : ""}), last lines:`);
    for (const line of lastLines(result.stderr.text, tailLines)) lines.push(`  warning: ${line}`);
  }
  if (result.stdout.lines > 0) {
    lines.push(`stdout (${result.stdout.lines} lines${result.stdout.truncated ? ", cut" : ""}), last lines:`);
    for (const line of lastLines(result.stdout.text, tailLines)) lines.push(`  ${line}`);
  }
  return lines.join("\n");
}

function lastLines(text: string, count: number): string[] {
  return text.replace(/\n$/, "").split("\n").slice(-count);
}
