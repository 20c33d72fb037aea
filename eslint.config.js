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
);
