/**
 * The package-spec grammar of environment files: conda match specs (`numpy=2.2.6`, `pytorch=2.6.0=cuda126*`,
 * `conda-forge::pandas=2.2.3`, `scipy>=1.10,<2`, `tqdm 4.67.1 pyhd8ed1ab_0`) and pip requirements
 * (`timm==1.0.15`, `uvicorn[standard]==0.34.0`, `rich>=13,<14`, `mylib @ https://…`), and when two specs
 * name the same package.
 */

export type PackageSource = "conda" | "pip";

/** One package as a spec names it. */
export interface PackageSpec {
  /** As written, lower-cased for conda (conda names are lower case). */
  name: string;
  source: PackageSource;
  /** The exact version, when pinned (`numpy=2.2.6`, `numpy==2.2.6`, `torch==2.6.0` for pip). */
  version?: string;
  /** A version constraint that is not an exact pin (`>=1.2,<2`, `1.2.*`). */
  constraint?: string;
  /** The conda build string, when given (`pytorch=2.6.0=cuda126*`). */
  build?: string;
  /** The channel, when the spec names one (`conda-forge::numpy=2.2.6`). */
  channel?: string;
  /** The spec as written (trimmed). */
  spec: string;
}

/** A spec read: the package, or what is wrong with the spec and how to write it. */
export type SpecResult = { ok: true; package: PackageSpec } | { ok: false; problem: string };

const CONDA_SPEC = /^(?:(?<channel>[A-Za-z0-9_.\-/:]+?)::)?(?<name>[A-Za-z0-9_][A-Za-z0-9_.-]*)(?<rest>.*)$/;
const PIP_SPEC = /^(?<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?\s*(?<rest>.*)$/;
const EXACT_VERSION = /^[A-Za-z0-9_.+!]+$/;
const CONSTRAINT = /^[A-Za-z0-9_.+!*<>=,|~ ]+$/;

/** Reads one spec of an environment file: a conda match spec, or a pip requirement (under `pip:`). */
export function parsePackageSpec(written: string, source: PackageSource): SpecResult {
  const spec = written.trim();
  return source === "conda" ? parseCondaSpec(spec) : parsePipSpec(spec);
}

const found = (pkg: PackageSpec): SpecResult => ({ ok: true, package: pkg });

function parseCondaSpec(spec: string): SpecResult {
  const bad = (why: string): SpecResult => ({
    ok: false,
    problem: `"${spec}" is not a conda package spec: ${why}; write name=version, e.g. numpy=2.2.6`,
  });
  const match = CONDA_SPEC.exec(spec);
  if (!match?.groups) return bad("it must start with the package name");
  const { channel, name, rest = "" } = match.groups as { channel?: string; name: string; rest?: string };
  const pkg: PackageSpec = { name: name.toLowerCase(), source: "conda", spec };
  if (channel) pkg.channel = channel;
  const tail = rest.trim();
  if (tail === "") return found(pkg);
  if (tail.startsWith("[")) return bad("the bracket form name[version=...] is not supported here");

  let version: string;
  let build: string | undefined;
  if (/^[<>!~]/.test(tail) || (/^\s/.test(rest) && /^[<>=!~]/.test(tail))) {
    const text = tail.replace(/\s+/g, "");
    if (!CONSTRAINT.test(text) || !/[0-9*]/.test(text)) return bad(`"${tail}" is not a version constraint`);
    pkg.constraint = text;
    return found(pkg);
  }
  if (/^\s/.test(rest)) {
    // "name 1.2.3 build" (conda's space-separated form)
    const parts = tail.split(/\s+/);
    if (parts.length > 2) return bad("too many space-separated parts");
    [version, build] = [parts[0]!, parts[1]];
  } else if (tail.startsWith("==") || (tail.startsWith("=") && !tail.startsWith("=="))) {
    const body = tail.replace(/^==?/, "");
    const parts = body.split("=");
    if (parts.length > 2 || parts[0] === "") return bad("expected name=version or name=version=build");
    [version, build] = [parts[0]!, parts[1]];
    if (build === "") return bad("the build string after the second '=' is empty");
  } else {
    return bad(`unexpected "${tail}" after the name`);
  }

  if (build !== undefined) {
    if (!/^[A-Za-z0-9_.*+]+$/.test(build)) return bad(`"${build}" is not a build string`);
    pkg.build = build;
  }
  if (EXACT_VERSION.test(version)) {
    pkg.version = version;
    return found(pkg);
  }
  if (build === undefined && CONSTRAINT.test(version) && version.includes("*")) {
    pkg.constraint = version;
    return found(pkg);
  }
  return bad(`"${version}" is not a version`);
}

function parsePipSpec(spec: string): SpecResult {
  const bad = (why: string): SpecResult => ({
    ok: false,
    problem: `"${spec}" is not a pip requirement: ${why}; write name==version (or name @ url), e.g. timm==1.0.15`,
  });
  if (/^(?:[a-z+]+:\/\/|git\+|\.{0,2}\/|-)/i.test(spec)) return bad("it must start with the package name");
  const match = PIP_SPEC.exec(spec);
  if (!match?.groups) return bad("it must start with the package name");
  const pkg: PackageSpec = { name: match.groups.name!, source: "pip", spec };
  // Environment markers (`; python_version < "3.12"`) do not change which package it is.
  const rest = (match.groups.rest ?? "").split(";")[0]!.trim();
  if (rest === "") return found(pkg);
  if (rest.startsWith("@")) {
    return rest.slice(1).trim() === "" ? bad("the URL after @ is missing") : found(pkg);
  }
  const exact = /^===?\s*([A-Za-z0-9_.+!]+)$/.exec(rest);
  if (exact) {
    pkg.version = exact[1]!;
    return found(pkg);
  }
  if (!/^(?:(?:[<>!~]=?|===?)\s*[A-Za-z0-9_.+!*]+\s*,?\s*)+$/.test(rest)) {
    return bad(`"${rest}" is not a version constraint`);
  }
  pkg.constraint = rest.replace(/\s+/g, "");
  return found(pkg);
}

/** Two entries are the same package when their source and normalized names match (PEP 503 for pip). */
export function packageId(pkg: { name: string; source?: PackageSource }): string {
  const source = pkg.source ?? "conda";
  const name = pkg.name.toLowerCase();
  return `${source}:${source === "pip" ? name.replace(/[-_.]+/g, "-") : name}`;
}
