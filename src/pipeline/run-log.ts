import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { CapturedLog } from "../sandbox/index.js";

/** Where a log line came from: the program's two streams, or the runtime's entrypoint (proctor's own). */
export type LogSource = "stdout" | "stderr" | "proctor";

export interface LogLine {
  source: LogSource;
  /** The runtime's UTC timestamp of the line ("" where the image does not stamp lines). */
  stamp: string;
  text: string;
  /** A later piece of a line the runtime split (longer than 64 KiB): it goes on the line before it. */
  continued: boolean;
}

/**
 * A line as the runtime entrypoint stamps it: "2026-01-02T03:04:05Z text", or "2026-01-02T03:04:05Z+ text"
 * for a later piece of a line it split. (`s`: a line may hold carriage returns, e.g. progress bars.)
 */
const STAMPED = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)(\+?) (.*)$/s;
/** The entrypoint's own lines, which it writes to stderr: "<stamp> [proctor] text". */
const PROCTOR_LINE = /^\[proctor\] (.*)$/s;

function parse(text: string, stream: "stdout" | "stderr"): LogLine[] {
  if (text === "") return [];
  return text
    .replace(/\n$/, "")
    .split("\n")
    .map((raw) => {
      const stamped = STAMPED.exec(raw);
      const stamp = stamped ? stamped[1]! : "";
      const continued = stamped?.[2] === "+";
      const body = stamped ? stamped[3]! : raw;
      const own = stream === "stderr" && !continued ? PROCTOR_LINE.exec(body) : null;
      return own
        ? { source: "proctor", stamp, text: own[1]!, continued }
        : { source: stream, stamp, text: body, continued };
    });
}

/**
 * One log of a run, in the order the lines were written as far as the runtime's timestamps tell (to the
 * second; within a second, stdout's lines first), with proctor's own lines told apart from the program's. A
 * split line's pieces stay together.
 */
export function mergeLogs(stdout: CapturedLog, stderr: CapturedLog): LogLine[] {
  const out = parse(stdout.text, "stdout");
  const err = parse(stderr.text, "stderr");
  const merged: LogLine[] = [];
  let i = 0;
  let j = 0;
  while (i < out.length || j < err.length) {
    const a = out[i];
    const b = err[j];
    if (a && (!b || !a.stamp || !b.stamp || a.stamp <= b.stamp)) {
      do merged.push(out[i++]!);
      while (out[i]?.continued);
    } else {
      do merged.push(err[j++]!);
      while (err[j]?.continued);
    }
  }
  return merged;
}

/** The program's lines only (stdout and stderr), proctor's own left out. */
export function programLines(lines: LogLine[]): LogLine[] {
  return lines.filter((line) => line.source !== "proctor");
}

const LABEL: Record<LogSource, string> = { stdout: "stdout ", stderr: "stderr ", proctor: "proctor" };
/** A split line's later pieces: "stdout+" reads as "stdout, continued". */
const CONTINUED_LABEL: Record<LogSource, string> = {
  stdout: "stdout+",
  stderr: "stderr+",
  proctor: "proctor",
};

/** The log as text: one line per line of the run (per piece of a split line), timestamp, source, text. */
export function formatLog(lines: LogLine[]): string {
  return lines
    .map(
      (l) =>
        `${l.stamp ? `${l.stamp} ` : ""}${(l.continued ? CONTINUED_LABEL : LABEL)[l.source]} ${l.text}\n`,
    )
    .join("");
}

const ORDER_NOTE =
  "# the run's stdout, stderr and the runtime's own lines (proctor), in the order of the runtime's timestamps\n" +
  "# (to the second; within one second, stdout's lines come first)\n";

const SPLIT_NOTE =
  "# lines longer than 64 KiB were split as they were printed: their later pieces are labelled stdout+ or stderr+\n";

/**
 * Writes the whole log of a run (every line of both streams, in order) to `file`; says where a stream was
 * cut by the capture cap.
 */
export async function writeRunLog(file: string, stdout: CapturedLog, stderr: CapturedLog): Promise<void> {
  const notes = (["stdout", "stderr"] as const)
    .filter((name) => (name === "stdout" ? stdout : stderr).truncated)
    .map(
      (name) =>
        `# ${name} was ${(name === "stdout" ? stdout : stderr).bytes} bytes: its middle was cut, its first and last parts are here\n`,
    );
  const lines = mergeLogs(stdout, stderr);
  if (lines.some((line) => line.continued)) notes.push(SPLIT_NOTE);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, ORDER_NOTE + notes.join("") + formatLog(lines));
}
