/**
 * The import rules eslint.config.js enforces, checked on deliberately bad (and good) one-line files: each
 * library stays in its room, no room imports an edge, clients never load the server or SQLite, and the
 * merged lists hold together for files that two groups cover.
 */
import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";

const eslint = new ESLint({ cwd: new URL("..", import.meta.url).pathname });

async function restricted(filePath: string, source: string): Promise<boolean> {
  const [result] = await eslint.lintText(`import x from "${source}";\nexport default x;\n`, { filePath });
  return result!.messages.some((m) => m.ruleId === "no-restricted-imports");
}

const cases: [file: string, source: string, refused: boolean][] = [
  ["src/sandbox/x.ts", "dockerode", false],
  ["src/pipeline/x.ts", "dockerode", true],
  ["src/github/x.ts", "@octokit/rest", false],
  ["src/action/x.ts", "@octokit/core", true],
  ["src/gateway/x.ts", "fastify", false],
  ["src/gateway/web/x.ts", "@fastify/cookie", false],
  ["src/intake/x.ts", "fastify", true],
  ["src/cli/x.ts", "@fastify/multipart", true],
  ["src/sqlite/x.ts", "better-sqlite3", false],
  ["src/intake/x.ts", "better-sqlite3", true],
  ["src/leaderboard/x.ts", "better-sqlite3", true],
  ["src/leaderboard/x.ts", "../cli/usage-error.js", true],
  ["src/pipeline/x.ts", "../action/inputs.js", true],
  ["src/intake/x.ts", "../gateway/index.js", true],
  ["src/intake/x.ts", "../gateway-api/index.js", false],
  ["src/cli/serve-command.ts", "../gateway/index.js", false],
  ["src/cli/submit-command.ts", "../gateway/index.js", true],
  ["src/cli/submit-command.ts", "../intake/index.js", true],
  ["src/cli/submit-command.ts", "../sqlite/index.js", true],
  ["src/cli/submit-command.ts", "dockerode", true],
  ["src/cli/submit-command.ts", "../gateway-api/index.js", false],
  ["src/gateway-api/x.ts", "../intake/db.js", true],
  ["src/gateway-api/x.ts", "better-sqlite3", true],
  ["src/gateway-api/x.ts", "@octokit/rest", true],
  ["src/leaderboard/x.test.ts", "better-sqlite3", false],
  ["src/intake/test-support/x.ts", "../../gateway/index.js", false],
];

describe("import rules (eslint.config.js)", () => {
  it.each(cases)("%s importing %s: refused %s", async (file, source, refused) => {
    expect(await restricted(file, source)).toBe(refused);
  });
});
