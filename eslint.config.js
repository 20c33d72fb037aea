import js from "@eslint/js";
import tseslint from "typescript-eslint";

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
  {
    // Only the sandbox room talks to the Docker engine.
    files: ["src/**/*.ts"],
    ignores: ["src/sandbox/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        { paths: [{ name: "dockerode", message: "Only src/sandbox talks to the Docker engine." }] },
      ],
    },
  },
  {
    // The gateway's contract and clients, and the participant's commands, never load the server or its
    // native SQLite addon: they must run from a copy of build/ alone.
    files: [
      "src/gateway-api/**/*.ts",
      "src/cli/submit-command.ts",
      "src/cli/status-command.ts",
      "src/cli/cancel-command.ts",
      "src/cli/pack-command.ts",
      "src/cli/run-command.ts",
    ],
    ignores: ["**/*.test.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: [
            { name: "dockerode", message: "Only src/sandbox talks to the Docker engine." },
            { name: "better-sqlite3", message: "The server's database stays in src/intake." },
          ],
          patterns: [{ group: ["**/intake/**", "**/gateway/**"], message: "Clients never load the server." }],
        },
      ],
    },
  },
);
