/**
 * Text a program produced, made safe for a terminal: control characters (escape sequences that move the
 * cursor, rewrite the title, clear the screen) become "?". Newlines are kept only where the caller splits.
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

export function printable(text: string): string {
  return text.replace(CONTROL, "?");
}
