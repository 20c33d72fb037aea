/**
 * What a participant is shown of their program's log: all of it, its last `tailLines` lines, or nothing,
 * as the phase (or the competition's `logs` section) says; on the gateway also at most `maxBytes`.
 */

export type LogVisibility = "full" | "tail" | "none";

export interface LogShowing {
  visibility: LogVisibility;
  /** Lines kept by "tail". */
  tailLines: number;
  /** At most this many bytes (UTF-8) of what is shown, the last ones, marked where cut; default no cap. */
  maxBytes?: number;
}

/** The lines shown: all ("full"), the last `tailLines` ("tail"), or none. */
export function visibleLines<T>(lines: readonly T[], visibility: LogVisibility, tailLines: number): T[] {
  if (visibility === "none") return [];
  return visibility === "full" ? [...lines] : lines.slice(-tailLines);
}

/** A log's text as shown (a final newline does not make an empty last line); "" for no log. */
export function visibleLog(text: string | null, logs: LogShowing): string {
  if (text === null || logs.visibility === "none") return "";
  const shown =
    logs.visibility === "full"
      ? text
      : visibleLines(text.replace(/\n$/, "").split("\n"), "tail", logs.tailLines).join("\n");
  const bytes = Buffer.from(shown, "utf8");
  if (logs.maxBytes === undefined || bytes.length <= logs.maxBytes) return shown;
  // Decoding from a byte offset may start mid-character: drop the replacement character it makes.
  const kept = bytes
    .subarray(bytes.length - logs.maxBytes)
    .toString("utf8")
    .replace(/^\uFFFD+/, "");
  return `[… ${bytes.length - Buffer.byteLength(kept)} earlier bytes not shown]\n${kept}`;
}
