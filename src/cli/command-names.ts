/** The CLI's commands: main.ts loads each on demand; the executable keeps a code cache for each. */
export const COMMAND_NAMES = [
  "run",
  "test-submission",
  "score",
  "pack",
  "leaderboard",
  "test-image",
  "interact",
  "image-ref",
  "check",
  "serve",
  "runner",
  "tokens",
  "runners",
  "admins",
  "admin",
  "cancel",
  "submit",
  "status",
  "runtime",
] as const;

export type CommandName = (typeof COMMAND_NAMES)[number];

export const isCommandName = (name: string | undefined): name is CommandName =>
  (COMMAND_NAMES as readonly (string | undefined)[]).includes(name);
