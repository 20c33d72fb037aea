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
}

/** A line as the runtime entrypoint stamps it: "2026-01-02T03:04:05Z text". */
const STAMPED = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) (.*)$/;
/** The entrypoint's own lines, which it writes to stderr: "<stamp> [proctor] text". */
const PROCTOR_LINE = /^\[proctor\] (.*)$/;

function parse(text: string, stream: "stdout" | "stderr"): LogLine[] {
  if (text === "") return [];
  return text
    .replace(/\n$/, "")
    .split("\n")
    .map((raw) => {
      const stamped = STAMPED.exec(raw);
      const stamp = stamped ? stamped[1]! : "";
      const body = stamped ? stamped[2]! : raw;
      const own = stream === "stderr" ? PROCTOR_LINE.exec(body) : null;
      return own ? { source: "proctor", stamp, text: own[1]! } : { source: stream, stamp, text: body };
    });
}

/**
 * One log of a run, in the order the lines were written as far as the runtime's timestamps tell (to the
 * second; within a second, stdout's lines first), with proctor's own lines told apart from the program's.
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
      merged.push(a);
      i++;
    } else {
      merged.push(b!);
      j++;
    }
  }
  return merged;
}

/** The program's lines only (stdout and stderr), proctor's own left out. */
export function programLines(lines: LogLine[]): LogLine[] {
  return lines.filter((line) => line.source !== "proctor");
}

const LABEL: Record<LogSource, string> = { stdout: "stdout ", stderr: "stderr ", proctor: "proctor" };

/** The log as text: one line per line of the run, timestamp, source, text. */
export function formatLog(lines: LogLine[]): string {
  return lines.map((l) => `${l.stamp ? `${l.stamp} ` : ""}${LABEL[l.source]} ${l.text}\n`).join("");
}

const ORDER_NOTE =
  "# the run's stdout, stderr and the runtime's own lines (proctor), in the order of the runtime's timestamps\n" +
  "# (to the second; within one second, stdout's lines come first)\n";

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
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, ORDER_NOTE + notes.join("") + formatLog(mergeLogs(stdout, stderr)));
}
