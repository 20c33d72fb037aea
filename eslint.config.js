import { readdirSync } from "node:fs";
import { fileURLToPath, URL } from "node:url";
import js from "@eslint/js";
import tseslint from "typescript-eslint";

/*
 * Where each outside library may be imported, and which way the rooms under src/ may call. In flat config a
 * later block's `no-restricted-imports` replaces an earlier one for the same file, so the lists are merged
 * here, per file group, and each source file gets exactly one block: its room's, or (later) the client
 * files' block, which carries its room's list too. Tests and test support import what they need.
 */
const LIBRARIES = [
  {
    room: "sandbox",
    paths: ["dockerode"],
    message: "Only src/sandbox talks to the Docker engine (dockerode).",
  },
  { room: "github", patterns: ["@octokit/*"], message: "Only src/github uses Octokit (@octokit/*)." },
  {
    room: "gateway",
    paths: ["fastify"],
    patterns: ["@fastify/*"],
    message: "Only src/gateway uses fastify; rooms answer no HTTP themselves.",
  },
  {
    room: "sqlite",
    paths: ["better-sqlite3"],
    message: "Only src/sqlite opens SQLite (better-sqlite3): use openSqlite from src/sqlite.",
  },
];
/** The edges: they parse input and call the rooms; no room imports one. */
const EDGES = ["cli", "action", "gateway"];
/** The gateway's contract and clients, and the participant's commands: they never load the server. */
const CLIENTS = [
  "src/gateway-api/**/*.ts",
  "src/cli/submit-command.ts",
  "src/cli/status-command.ts",
  "src/cli/cancel-command.ts",
  "src/cli/pack-command.ts",
  "src/cli/run-command.ts",
];
const TESTS = ["**/*.test.ts", "**/test-support/**"];

function restrictions(room, { client = false } = {}) {
  const paths = [];
  const patterns = [];
  for (const library of LIBRARIES) {
    if (library.room === room) continue;
    for (const name of library.paths ?? []) paths.push({ name, message: library.message });
    if (library.patterns) patterns.push({ group: library.patterns, message: library.message });
  }
  if (!EDGES.includes(room)) {
    patterns.push({
      group: EDGES.flatMap((edge) => [`**/${edge}`, `**/${edge}/**`]),
      message: "Rooms never import an edge (src/cli, src/action, src/gateway): edges call inward.",
    });
  }
  if (client) {
    patterns.push({
      group: ["**/intake", "**/intake/**", "**/gateway", "**/gateway/**", "**/sqlite", "**/sqlite/**"],
      message:
        "Clients never load the server (src/intake, src/gateway) or SQLite: they run from a copy of build/ alone.",
    });
  }
  return ["error", { paths, patterns }];
}

const rooms = readdirSync(fileURLToPath(new URL("./src", import.meta.url)), {
  withFileTypes: true,
})
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);

export default tseslint.config(
  { ignores: ["build/", "dist/", "node_modules/", "coverage/", "data/", "example_submission/", ".scratch/"] },
  {
    files: ["**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly" } },
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  ...rooms.map((room) => ({
    files: [`src/${room}/**/*.ts`],
    ignores: TESTS,
    rules: { "no-restricted-imports": restrictions(room) },
  })),
  ...CLIENTS.map((file) => ({
    files: [file],
    ignores: TESTS,
    rules: { "no-restricted-imports": restrictions(file.split("/")[1], { client: true }) },
  })),
);
