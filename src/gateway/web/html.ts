/**
 * HTML built by a tagged template (`markup`, not `html`, so that formatters leave its text alone) that escapes every interpolated value (text and attribute contexts
 * alike: & < > " ' all become entities), unless the value is already `Html` made here. Participant-controlled
 * text (names, notes, logs, reasons) can therefore only ever reach a page as text.
 */
import { escapeHtml } from "../../leaderboard/index.js";

export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

type Value = Html | string | number | boolean | null | undefined | readonly Value[];

function render(value: Value): string {
  if (value === null || value === undefined || value === false) return "";
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map((v: Value) => render(v)).join("");
  return escapeHtml(String(value));
}

export function markup(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0]!;
  values.forEach((value, i) => (out += render(value) + strings[i + 1]!));
  return new Html(out);
}

/** Text trusted as HTML: only for constants of this module's callers, never for input. */
export const trusted = (text: string): Html => new Html(text);
