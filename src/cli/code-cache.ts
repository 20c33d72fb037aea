import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import Module, { createRequire } from "node:module";
import path from "node:path";
import { constants, Script } from "node:vm";

export type CodeCacheOutcome = "hit" | "miss" | "rejected";

/**
 * Requires the CommonJS bundle `file` with a V8 code cache kept in `cacheDir` (what Node 22's
 * module.enableCompileCache does; Node 20 has none): a cold start then skips parsing and compiling what
 * the last start of the same `name` (the command) compiled. The cache is written as this process exits,
 * with every function it compiled, when there was none or V8 refused it (another V8, other flags). It is
 * keyed by the bundle's size, modification time and inode as well as node's version, because V8 itself
 * only checks the source's length: a rebuilt bundle never meets an old cache. One that cannot be read or
 * written is simply not used.
 */
export function requireWithCodeCache(file: string, cacheDir: string, name: string): CodeCacheOutcome {
  // Stat first: a rebuild between the two then keys the new source under the old bundle's name, which no
  // later start asks for; the other order could file the old source under the new bundle's name.
  const { size, mtimeMs, ino } = statSync(file);
  const source = readFileSync(file, "utf8");
  const prefix = `${name.replace(/[^a-z0-9-]/gi, "_")}@`;
  const cacheFile = path.join(
    cacheDir,
    `${prefix}${process.version}-${process.arch}-${size}-${mtimeMs}-${ino}.v8`,
  );
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const script = new Script(Module.wrap(source), {
    filename: file,
    cachedData,
    importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const outcome: CodeCacheOutcome = !cachedData ? "miss" : script.cachedDataRejected ? "rejected" : "hit";
  if (outcome !== "hit") process.once("exit", () => saveCache(script, cacheFile, prefix));
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  const module = { exports: {}, filename: file, id: file, loaded: false, children: [], paths: [] };
  wrapper.call(module.exports, module.exports, createRequire(file), module, file, path.dirname(file));
  module.loaded = true;
  return outcome;
}

/** Writes the cache, in place of any older one of the same name (another bundle, another node). */
function saveCache(script: Script, cacheFile: string, prefix: string): void {
  const cacheDir = path.dirname(cacheFile);
  try {
    mkdirSync(cacheDir, { recursive: true });
    for (const old of readdirSync(cacheDir).filter((f) => f.startsWith(prefix)))
      rmSync(path.join(cacheDir, old), { force: true });
    // Written whole, then renamed: a reader never meets half a cache.
    const partial = `${cacheFile}.${process.pid}.tmp`;
    writeFileSync(partial, script.createCachedData());
    renameSync(partial, cacheFile);
  } catch {
    // A folder we may not write (a shared install): starts stay as fast as without a cache.
  }
}
