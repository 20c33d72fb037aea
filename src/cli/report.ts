import type { SubmissionRunResult } from "../pipeline/run-submission.js";
import { describeLimits, type RunMetrics } from "../sandbox/index.js";
import { formatBytes, formatDuration } from "../units/index.js";

/**
 * The program's own exit code. output_missing is only ever a program that exited 0: the runtime's
 * entrypoint reports the missing file with a code of its own (ENTRYPOINT_EXIT.outputMissing), no
 * code of the participant's, so it is never shown to them.
 */
export function programExitCode(result: Pick<SubmissionRunResult, "status" | "exitCode">): number | null {
  return result.status === "output_missing" ? 0 : result.exitCode;
}

/** The one JSON object `proctor run --json` prints. */
export function runResultJson(result: SubmissionRunResult) {
  return {
    run_id: result.runId,
    status: result.status,
    reason: result.reason,
    exit_code: programExitCode(result),
    duration_ms: result.durationMs,
    image: result.image && { ref: result.image.ref, id: result.image.id, digest: result.image.digest },
    runtime: result.runtime,
    submission_sha256: result.submissionSha256,
    notes: result.notes ?? [],
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
      runtime: result.limits.runtime,
    },
    metrics: result.metrics && metricsJson(result.metrics),
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

/** The run's metrics as the result JSON carries them (snake_case, like the rest of it). */
export function metricsJson(m: RunMetrics) {
  return {
    peak_memory_bytes: m.peakMemoryBytes,
    cpu_seconds: m.cpuSeconds,
    cpu_average_cores: m.cpuAverage,
    cpu_peak_cores: m.cpuPeak,
    pids_peak: m.pidsPeak,
    output_bytes: m.outputBytes,
    tmp_bytes: m.tmpBytes,
    gpu: m.gpu && {
      peak_memory_bytes: m.gpu.peakMemoryBytes,
      peak_utilization_percent: m.gpu.peakUtilizationPercent,
      average_utilization_percent: m.gpu.averageUtilizationPercent,
    },
    sample_interval_ms: m.intervalMs,
    samples: m.samples.map((s) => ({
      t_ms: s.tMs,
      memory_bytes: s.memoryBytes,
      cpu_cores: s.cpu,
      pids: s.pids,
    })),
  };
}

/** "peak memory 312 MiB, CPU 2.84 s (0.75 cores on average, 0.90 at peak)", or null when nothing was measured. */
export function describeUsage(m: RunMetrics | null): string | null {
  if (!m || (m.peakMemoryBytes === null && m.cpuSeconds === null)) return null;
  const parts = [`peak memory ${m.peakMemoryBytes === null ? "—" : formatBytes(m.peakMemoryBytes)}`];
  if (m.cpuSeconds !== null) {
    const cores = [
      m.cpuAverage === null ? null : `${m.cpuAverage.toFixed(2)} cores on average`,
      m.cpuPeak === null ? null : `${m.cpuPeak.toFixed(2)} at peak`,
    ].filter(Boolean);
    parts.push(`CPU ${m.cpuSeconds.toFixed(2)} s${cores.length > 0 ? ` (${cores.join(", ")})` : ""}`);
  }
  if (m.gpu)
    parts.push(`GPU memory ${formatBytes(m.gpu.peakMemoryBytes)}, ${m.gpu.peakUtilizationPercent}% at peak`);
  return parts.join(", ");
}

const MARK: Record<string, string> = { succeeded: "✔", infrastructure_error: "⚠" };

/** A few lines for a person: what happened, why, and what the program said last. */
export function runResultText(result: SubmissionRunResult, tailLines = 10): string {
  const lines: string[] = [];
  const code = programExitCode(result);
  const exit = code === null ? "" : `, exit code ${code}`;
  lines.push(`${MARK[result.status] ?? "✘"} ${result.status} in ${formatDuration(result.durationMs)}${exit}`);
  lines.push(`  why     ${result.reason}`);
  if (result.image) {
    lines.push(`  image   ${result.image.ref} (${result.image.digest ?? result.image.id})`);
  }
  lines.push(`  runtime ${result.runtime}`);
  const usage = describeUsage(result.metrics);
  if (usage) lines.push(`  used    ${usage}`);
  if (result.submissionSha256) lines.push(`  file    sha256:${result.submissionSha256}`);
  for (const note of result.notes ?? []) lines.push(`  note    ${note}`);
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
    // Labelled by the stream, not as warnings: logging, loguru and progress bars write there too.
    for (const line of lastLines(result.stderr.text, tailLines)) lines.push(`  stderr: ${line}`);
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
