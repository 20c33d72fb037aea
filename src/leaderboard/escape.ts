/** Making untrusted text (participant names, notes, logs, reasons) inert where it is rendered. */

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/**
 * Makes an untrusted string inert inside a GitHub-flavoured Markdown table cell: line breaks become
 * spaces, pipes and inline-formatting characters are backslash-escaped, and HTML is entity-escaped
 * (GitHub renders inline HTML).
 */
export function escapeMarkdown(text: string): string {
  return escapeHtml(text.replace(/[\r\n\t\u2028\u2029]+/g, " ").replace(/[\\`*_[\]|~!#]/g, (c) => `\\${c}`));
}
