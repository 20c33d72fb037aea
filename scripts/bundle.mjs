// Bundles the two entry points into one ESM file each, so they start fast and run without node_modules:
//   build/proctor.mjs  the CLI (bin "proctor")
//   dist/index.js      the GitHub Action (committed: runners execute it straight from the checkout)
// Native addons are left out: better-sqlite3 is loaded only when a SQLite store opens (the CLI has
// node_modules), ssh2's optional crypto binding and cpu-features are optional and fall back to JS.
import { build } from "esbuild";
import { rmSync } from "node:fs";
import path from "node:path";

/**
 * dockerode loads, at start, libraries for things proctor never does: Docker over SSH (ssh2) and BuildKit
 * sessions (gRPC, protobuf, and uuid for the session id). Bundled as stubs that throw if ever called, a
 * cold `proctor run` doesn't parse them (about a third of its start-up). A rule with `from` applies only
 * where that file requires the module.
 */
const STUBS = [
  { name: "ssh2" },
  { name: "@grpc/grpc-js" },
  { name: "@grpc/proto-loader" },
  { name: "protobufjs" },
  { name: "uuid", from: /\/dockerode\/lib\/session\.js$/ },
];
/**
 * Modules a dependency requires at start for a path proctor takes rarely: bundled as they are, but run on
 * first use instead of at start. dockerode's util.js needs tar-fs (and its streams) and dockerignore only to
 * pack a build context (the classic builder's fallback in sandbox/registry.ts).
 */
const LAZY = [
  { name: "tar-fs", from: /\/dockerode\/lib\/util\.js$/ },
  { name: "@balena/dockerignore", from: /\/dockerode\/lib\/util\.js$/ },
];
/**
 * docker-modem creates its `debug("modem")` logger at start, which loads debug, supports-color and tty;
 * without DEBUG set that logger is off, so it is bundled to load debug only when DEBUG is set.
 */
const DEBUG_FROM = /\/docker-modem\/lib\/modem\.js$/;
const exact = (names) => new RegExp(`^(${names.map((n) => n.replace(/[/.]/g, "\\$&")).join("|")})$`);
const applies = (rules, args) =>
  rules.some((r) => r.name === args.path && (!r.from || r.from.test(args.importer.replaceAll("\\", "/"))));
const stubUnused = {
  name: "stub-unused",
  setup(b) {
    b.onResolve({ filter: exact(STUBS.map((s) => s.name)) }, (args) =>
      applies(STUBS, args) ? { path: args.path, namespace: "proctor-stub" } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "proctor-stub" }, (args) => ({
      contents: `const fail = () => { throw new Error(${JSON.stringify(
        `proctor is bundled without ${args.path} (Docker over SSH and BuildKit sessions are not used)`,
      )}); };
module.exports = new Proxy({}, { get: (_, key) => (key === "__esModule" ? false : fail) });`,
      loader: "js",
    }));
  },
};
const loadOnUse = {
  name: "load-on-use",
  setup(b) {
    const resolveAs = (namespace) => async (args) => {
      const real = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir });
      if (real.errors.length > 0) return { errors: real.errors };
      return { path: real.path, namespace };
    };
    b.onResolve({ filter: exact(LAZY.map((l) => l.name)) }, (args) =>
      applies(LAZY, args) ? resolveAs("proctor-lazy")(args) : undefined,
    );
    b.onResolve({ filter: /^debug$/ }, (args) =>
      DEBUG_FROM.test(args.importer.replaceAll("\\", "/")) ? resolveAs("proctor-debug")(args) : undefined,
    );
    // The real module is a require inside a function: esbuild runs it on the first call, not at start.
    b.onLoad({ filter: /.*/, namespace: "proctor-lazy" }, (args) => ({
      contents: `let real;
const load = () => (real ??= require(${JSON.stringify(args.path)}));
module.exports = new Proxy(function () {}, {
  apply: (_, self, params) => Reflect.apply(load(), self, params),
  construct: (_, params) => Reflect.construct(load(), params),
  get: (_, key) => (key === "__esModule" ? false : load()[key]),
});`,
      loader: "js",
      resolveDir: path.dirname(args.path),
    }));
    // debug reads DEBUG when it loads and enables nothing without it: unset, a no-op logger does the same.
    b.onLoad({ filter: /.*/, namespace: "proctor-debug" }, (args) => ({
      contents: `const off = Object.assign(() => {}, { enabled: false });
module.exports = (namespace) => (process.env.DEBUG ? require(${JSON.stringify(args.path)})(namespace) : off);`,
      loader: "js",
      resolveDir: path.dirname(args.path),
    }));
  },
};

/**
 * "*.node" keeps native addons out of the bundle, but the CycloneDX library names JavaScript modules
 * `./contrib/index.node`, `./utils.node` … (for index.node.js …): those are bundled as the JavaScript they are.
 */
const nodeNamedModules = {
  name: "node-named-modules",
  setup(b) {
    b.onResolve({ filter: /\.node$/ }, (args) =>
      /[\\/]@cyclonedx[\\/]/.test(args.importer)
        ? { path: path.join(args.resolveDir, `${args.path}.js`) }
        : undefined,
    );
  },
};

const only = process.argv[2];
const common = {
  bundle: true,
  minify: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // The CycloneDX library's optional XML and schema-validation plug-ins: tried at use, absent here.
  external: [
    "better-sqlite3",
    "cpu-features",
    "*.node",
    "playwright-core",
    "xmlbuilder2",
    "libxmljs2",
    "ajv-formats-draft2019",
  ],
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
  plugins: [stubUnused, loadOnUse, nodeNamedModules],
};

if (!only || only === "cli") {
  // Each build starts clean: nothing of an older layout, no code cache of an older bundle.
  rmSync("build", { recursive: true, force: true });
  // The CLI is one CommonJS file, so that the executable can load it with a V8 code cache (Node 20 caches
  // no ES modules). Each command's code is still evaluated only when that command runs: esbuild turns
  // main.ts's dynamic imports into lazy initialisers.
  await build({
    ...common,
    format: "cjs",
    entryPoints: { cli: "src/cli/main.ts" },
    outdir: "build",
    outExtension: { ".js": ".cjs" },
    define: { "import.meta.url": "__proctorModuleUrl" },
    banner: { js: "const __proctorModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
    sourcemap: true,
  });
  // The executable: loads build/cli.cjs with its code cache (src/cli/entry.ts).
  await build({
    ...common,
    entryPoints: { proctor: "src/cli/entry.ts" },
    outdir: "build",
    outExtension: { ".js": ".mjs" },
  });
}
if (!only || only === "action") {
  // No source map and no timestamps: dist/ must be byte-for-byte reproducible for check-dist.
  await build({ ...common, entryPoints: { index: "src/action/index.ts" }, outdir: "dist" });
}
