// Bundles the CLI into one ESM file: a cold `proctor` start then loads one file instead of hundreds of
// modules. Native addons stay external and load from node_modules.
import { build } from "esbuild";

await build({
  entryPoints: { proctor: "src/cli/main.ts" },
  outdir: "build",
  outExtension: { ".js": ".mjs" },
  bundle: true,
  minify: true,
  sourcemap: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external: ["better-sqlite3", "ssh2", "cpu-features", "playwright-core"],
  // Bundled CommonJS dependencies call require(); give ESM one.
  banner: { js: "import { createRequire as __proctorRequire } from 'node:module'; const require = __proctorRequire(import.meta.url);" },
  logLevel: "warning",
});
