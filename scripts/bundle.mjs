// Bundles the two entry points into one ESM file each, so they start fast and run without node_modules:
//   build/proctor.mjs  the CLI (bin "proctor")
//   dist/index.js      the GitHub Action (committed: runners execute it straight from the checkout)
// Native addons are left out: better-sqlite3 is loaded only when a SQLite store opens (the CLI has
// node_modules), ssh2's optional crypto binding and cpu-features are optional and fall back to JS.
import { build } from "esbuild";

/**
 * dockerode loads, at start, libraries for two things proctor never does: Docker over SSH (ssh2) and
 * BuildKit sessions (gRPC, protobuf). Bundled as stubs that throw if ever called, a cold `proctor run`
 * doesn't parse them (about a third of its start-up).
 */
const UNUSED = ["ssh2", "@grpc/grpc-js", "@grpc/proto-loader", "protobufjs"];
const stubUnused = {
  name: "stub-unused",
  setup(b) {
    const filter = new RegExp(`^(${UNUSED.map((n) => n.replace(/[/.]/g, "\\$&")).join("|")})$`);
    b.onResolve({ filter }, (args) => ({ path: args.path, namespace: "proctor-stub" }));
    b.onLoad({ filter: /.*/, namespace: "proctor-stub" }, (args) => ({
      contents: `const fail = () => { throw new Error(${JSON.stringify(
        `proctor is bundled without ${args.path} (Docker over SSH and BuildKit sessions are not used)`,
      )}); };
module.exports = new Proxy({}, { get: (_, key) => (key === "__esModule" ? false : fail) });`,
      loader: "js",
    }));
  },
};

const only = process.argv[2];
const common = {
  bundle: true,
  minify: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external: ["better-sqlite3", "cpu-features", "*.node", "playwright-core"],
  // Bundled CommonJS dependencies use require, __filename and __dirname; give ESM those.
  banner: {
    js: [
      "import { createRequire as __proctorRequire } from 'node:module';",
      "import { fileURLToPath as __proctorPath } from 'node:url';",
      "const require = __proctorRequire(import.meta.url);",
      "const __filename = __proctorPath(import.meta.url);",
      "const __dirname = __proctorPath(new URL('.', import.meta.url));",
    ].join(" "),
  },
  logLevel: "warning",
  legalComments: "none",
  plugins: [stubUnused],
};

if (!only || only === "cli") {
  // Split into chunks: each command's code loads only when that command runs.
  await build({
    ...common,
    entryPoints: { proctor: "src/cli/main.ts" },
    outdir: "build",
    outExtension: { ".js": ".mjs" },
    chunkNames: "chunks/[name]-[hash]",
    splitting: true,
    sourcemap: true,
  });
}
if (!only || only === "action") {
  // No source map and no timestamps: dist/ must be byte-for-byte reproducible for check-dist.
  await build({ ...common, entryPoints: { index: "src/action/index.ts" }, outdir: "dist" });
}
