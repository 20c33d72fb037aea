/**
 * The licence of each package in a runtime image, as an SPDX expression where one can be derived (Debian's
 * machine-readable copyright files, Python's License-Expression / License / classifiers, conda's `license`),
 * and the licence report: which are unknown, and which the competition's policy denies
 * (competition.yml `runtime.licences`).
 */
import parseSpdx from "spdx-expression-parse";

/** What competition.yml's `runtime.licences` says (see src/config): SPDX ids denied, and what unknown means. */
export interface LicencePolicy {
  deny: readonly string[];
  /** `warn`: unknown licences are listed; `fail`: they fail the report as denied ones do. */
  unknown: "warn" | "fail";
}

/** An SPDX expression, or null when none could be derived; `declared` is what the package said. */
export interface Licence {
  spdx: string | null;
  declared: string | null;
}

/** A valid SPDX expression, or null. */
export function validSpdx(expression: string): string | null {
  const text = expression.trim();
  if (text === "") return null;
  try {
    parseSpdx(text);
    return text;
  } catch {
    return null;
  }
}

/**
 * Debian's short licence names (DEP-5: `GPL-2+`, `BSD-3-clause`, `Expat`, `GPL-2+ or Artistic`) as SPDX.
 * An exception clause (`with OpenSSL exception`) is dropped: the base licence is what the policy judges.
 */
export function debianToSpdx(name: string): string | null {
  const words = name
    .replace(/\s+with\s+[\w.+-]+\s+exception/gi, "")
    .trim()
    .split(/\s+(or|and)\s+|,\s*(?:or|and)?\s*/i)
    .filter((w) => w !== undefined && w !== "");
  const out: string[] = [];
  for (const word of words) {
    if (/^(or|and)$/i.test(word)) {
      out.push(word.toUpperCase());
      continue;
    }
    const id = debianId(word);
    if (id === null) return null;
    if (out.length > 0 && !/^(OR|AND)$/.test(out.at(-1)!)) out.push("AND");
    out.push(id);
  }
  return validSpdx(out.join(" "));
}

const DEBIAN_NAMES: Record<string, string> = {
  expat: "MIT",
  mit: "MIT",
  "apache-2": "Apache-2.0",
  "apache-2.0": "Apache-2.0",
  artistic: "Artistic-1.0-Perl",
  "artistic-2": "Artistic-2.0",
  "artistic-2.0": "Artistic-2.0",
  "psf-2": "PSF-2.0",
  psf: "PSF-2.0",
  python: "Python-2.0",
  "python-2.0": "Python-2.0",
  zlib: "Zlib",
  isc: "ISC",
  "cc0-1.0": "CC0-1.0",
  cc0: "CC0-1.0",
  "public-domain": "LicenseRef-public-domain",
  "mpl-1.1": "MPL-1.1",
  "mpl-2.0": "MPL-2.0",
  bsl: "BSL-1.0",
  "bsl-1.0": "BSL-1.0",
  x11: "X11",
  curl: "curl",
  openssl: "OpenSSL",
  sleepycat: "Sleepycat",
  unicode: "Unicode-DFS-2016",
  "ofl-1.1": "OFL-1.1",
  "cc-by-sa-3.0": "CC-BY-SA-3.0",
  "cc-by-4.0": "CC-BY-4.0",
  "gfdl-niv-1.3+": "GFDL-1.3-no-invariants-or-later",
  "gfdl-niv-1.3": "GFDL-1.3-no-invariants-only",
  "gfdl-niv-1.2+": "GFDL-1.2-no-invariants-or-later",
  "bsd-variant": "bzip2-1.0.6",
  permissive: "LicenseRef-permissive",
};

function debianId(word: string): string | null {
  const key = word.toLowerCase().replace(/[()]/g, "");
  if (DEBIAN_NAMES[key]) return DEBIAN_NAMES[key];
  const gnu = /^(a?gpl|lgpl|gfdl)-?(\d(?:\.\d+)?)(\+)?$/.exec(key);
  if (gnu) {
    const [, family, version, later] = gnu as unknown as [string, string, string, string | undefined];
    const full = version.includes(".") ? version : `${version}.0`;
    return `${family.toUpperCase()}-${full}-${later ? "or-later" : "only"}`;
  }
  // Debian names variants of the BSD texts after their holder (BSD-3-clause-Cambridge): the same terms.
  const bsd = /^bsd-(\d)(?:-clause(?:-[\w.]+)?)?$/.exec(key);
  if (bsd) return `BSD-${bsd[1]}-Clause`;
  return validSpdx(word);
}

/** What the image's lister read of a Debian copyright file. */
export interface DebianCopyright {
  /** The `License:` of the `Files: *` paragraph (DEP-5 machine-readable files). */
  main: string | null;
  /** Every `License:` field, in order. */
  all: string[];
  /** The licences under /usr/share/common-licenses the file refers to (older free-form files). */
  refs?: string[];
  /** Whether the file says "any later version". */
  later?: boolean;
}

/**
 * The licence of a Debian package from its copyright file: the `Files: *` paragraph's `License:`, else all
 * its `License:` fields together, else (free-form files: glibc, gcc) the common licences it refers to,
 * together (AND: what the package may carry, so a denied one is never missed).
 */
export function debianLicence(copyright: DebianCopyright | undefined): Licence {
  if (!copyright) return { declared: null, spdx: null };
  const main = copyright.main ? debianToSpdx(copyright.main) : null;
  if (main) return { declared: copyright.main, spdx: main };
  const fields = [...new Set(copyright.all)];
  const mapped = fields.map(debianToSpdx);
  if (fields.length > 0 && mapped.every((id) => id !== null))
    return {
      declared: fields.join("; "),
      spdx: validSpdx([...new Set(mapped)].map((id) => `(${id})`).join(" AND ")),
    };
  const refs = commonLicences(copyright.refs ?? [], copyright.later ?? false);
  if (refs.length > 0)
    return {
      declared: `/usr/share/common-licenses: ${(copyright.refs ?? []).join(", ")}`,
      spdx: validSpdx(refs.join(" AND ")),
    };
  return { declared: copyright.main ?? fields[0] ?? null, spdx: null };
}

/** /usr/share/common-licenses names as SPDX ids; an unversioned GPL/LGPL only where no version is named. */
function commonLicences(refs: readonly string[], later: boolean): string[] {
  const ids = new Set<string>();
  const versioned = new Set(refs.filter((r) => /-\d/.test(r)).map((r) => r.replace(/-.*/, "").toUpperCase()));
  for (const ref of refs) {
    const unversioned = { GPL: "GPL-1.0-or-later", LGPL: "LGPL-2.0-or-later" }[ref.toUpperCase()];
    if (unversioned) {
      if (!versioned.has(ref.toUpperCase())) ids.add(unversioned);
      continue;
    }
    const id = debianId(/^(A?GPL|LGPL|GFDL)-[\d.]+$/i.test(ref) && later ? `${ref}+` : ref);
    if (id) ids.add(id);
  }
  return [...ids].sort();
}

const CLASSIFIERS: Record<string, string> = {
  "MIT License": "MIT",
  "MIT No Attribution License (MIT-0)": "MIT-0",
  "Apache Software License": "Apache-2.0",
  "Python Software Foundation License": "PSF-2.0",
  "ISC License (ISCL)": "ISC",
  "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
  "The Unlicense (Unlicense)": "Unlicense",
  "GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
  "GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
  "GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
  "GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
  "GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
  "GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.0-or-later",
  "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
  "GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
  "GNU Affero General Public License v3": "AGPL-3.0-only",
  "GNU Affero General Public License v3 or later (AGPLv3+)": "AGPL-3.0-or-later",
};

/** Common spellings of the `License:` field that are not SPDX ids. */
const PYTHON_NAMES: Record<string, string> = {
  "mit license": "MIT",
  "the mit license": "MIT",
  "apache 2.0": "Apache-2.0",
  "apache license 2.0": "Apache-2.0",
  "apache license, version 2.0": "Apache-2.0",
  "apache software license": "Apache-2.0",
  "new bsd": "BSD-3-Clause",
  "new bsd license": "BSD-3-Clause",
  "3-clause bsd": "BSD-3-Clause",
  "bsd 3-clause": "BSD-3-Clause",
  "bsd-3": "BSD-3-Clause",
  "simplified bsd": "BSD-2-Clause",
  psf: "PSF-2.0",
  "psf license": "PSF-2.0",
  "dual license": "",
};

/** The licence of a Python distribution: License-Expression, else License, else an unambiguous classifier. */
export function pythonLicence(meta: {
  license_expression?: string | null;
  license?: string | null;
  classifiers?: readonly string[];
}): Licence {
  const expression = meta.license_expression?.trim();
  if (expression) return { declared: expression, spdx: validSpdx(expression) };
  // The License field sometimes holds the whole licence text: only its first line can be a name.
  const field = meta.license?.trim().split("\n")[0]?.trim() ?? "";
  const fromField =
    field && field.length <= 80 ? (validSpdx(field) ?? (PYTHON_NAMES[field.toLowerCase()] || null)) : null;
  if (fromField) return { declared: field, spdx: fromField };
  const classified = (meta.classifiers ?? [])
    .map((c) => c.replace(/^License ::\s*(OSI Approved ::\s*)?/, ""))
    .map((c) => CLASSIFIERS[c])
    .filter((id): id is string => id !== undefined);
  const unique = [...new Set(classified)];
  if (unique.length > 0) return { declared: meta.classifiers!.join("; "), spdx: unique.join(" OR ") };
  return { declared: field || (meta.classifiers ?? [])[0] || null, spdx: null };
}

/** The licence of a conda package from its conda-meta record's `license` (conda-forge writes SPDX). */
export function condaLicence(license: string | null | undefined): Licence {
  const declared = license?.trim() || null;
  return { declared, spdx: declared === null ? null : (validSpdx(declared) ?? debianToSpdx(declared)) };
}

/**
 * Whether an SPDX expression can only be met by denied licences: `A OR B` is denied when both are,
 * `A AND B` when either is.
 */
export function isDenied(expression: string, deny: readonly string[]): boolean {
  const denied = new Set(deny.map((id) => id.toLowerCase()));
  const walk = (node: parseSpdx.Info): boolean => {
    if ("license" in node) return denied.has(node.license.toLowerCase());
    return node.conjunction === "or"
      ? walk(node.left) && walk(node.right)
      : walk(node.left) || walk(node.right);
  };
  try {
    return walk(parseSpdx(expression));
  } catch {
    return false;
  }
}

/** One package's line in the licence report. */
export interface LicenceRow {
  /** `deb`, `pypi` or `conda`. */
  kind: string;
  name: string;
  version: string;
  licence: Licence;
  verdict: "ok" | "unknown" | "denied";
}

export interface LicenceReport {
  rows: LicenceRow[];
  denied: LicenceRow[];
  unknown: LicenceRow[];
  /** Whether the policy fails the report (a denied licence, or an unknown one under `unknown: fail`). */
  failed: boolean;
}

/** Judges each package's licence under the policy. */
export function licenceReport(
  packages: readonly { kind: string; name: string; version: string; licence: Licence }[],
  policy: LicencePolicy,
): LicenceReport {
  const rows: LicenceRow[] = packages.map((p) => ({
    ...p,
    verdict: p.licence.spdx === null ? "unknown" : isDenied(p.licence.spdx, policy.deny) ? "denied" : "ok",
  }));
  const denied = rows.filter((r) => r.verdict === "denied");
  const unknown = rows.filter((r) => r.verdict === "unknown");
  return {
    rows,
    denied,
    unknown,
    failed: denied.length > 0 || (policy.unknown === "fail" && unknown.length > 0),
  };
}

/** The report as Markdown (a job summary, a file beside the SBOM): flagged packages first. */
export function licenceReportMarkdown(report: LicenceReport, title: string, policy: LicencePolicy): string {
  const cell = (text: string) => text.replace(/[|\\`*_<>[\]]/g, (c) => `\\${c}`).replace(/\s+/g, " ");
  const table = (rows: readonly LicenceRow[]) => [
    "| package | kind | version | licence | declared |",
    "|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${cell(r.name)} | ${r.kind} | ${cell(r.version)} | ${r.licence.spdx ? cell(r.licence.spdx) : "unknown"} | ${cell((r.licence.declared ?? "").slice(0, 80))} |`,
    ),
  ];
  const counts = `${report.rows.length} packages: ${report.rows.length - report.denied.length - report.unknown.length} with an allowed SPDX licence, ${report.unknown.length} unknown, ${report.denied.length} denied`;
  const lines = [
    `### ${cell(title)}`,
    "",
    counts,
    `(denied by competition.yml \`runtime.licences.deny\`: ${policy.deny.join(", ") || "nothing"}; unknown licences ${policy.unknown === "fail" ? "fail" : "are listed, not failed"})`,
  ];
  if (report.denied.length > 0) lines.push("", "**Denied**", "", ...table(report.denied));
  if (report.unknown.length > 0) lines.push("", "**Unknown**", "", ...table(report.unknown));
  lines.push("", "<details><summary>All packages</summary>", "", ...table(report.rows), "", "</details>", "");
  return lines.join("\n");
}
