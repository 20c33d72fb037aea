#!/usr/bin/env node
/**
 * The `proctor` executable (build/proctor.mjs): loads the CLI bundle (build/cli.cjs, src/cli/main.ts) with a
 * V8 code cache in build/.cache, one per command, so a cold `proctor run` spends its start on the run.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { requireWithCodeCache } from "./code-cache.js";
import { isCommandName } from "./command-names.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const outcome = requireWithCodeCache(
  path.join(here, "cli.cjs"),
  path.join(here, ".cache"),
  // Help, usage errors and the like share one.
  isCommandName(process.argv[2]) ? process.argv[2] : "other",
);
if (process.env.PROCTOR_TRACE === "1") process.stderr.write(`proctor trace: code cache ${outcome}\n`);
