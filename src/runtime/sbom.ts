/**
 * The SBOM of a runtime image (CycloneDX 1.6 JSON, made with the CycloneDX library for JavaScript) from
 * what is really inside it: Debian's dpkg database and copyright files, conda-meta records, and the Python
 * distributions' metadata. A tiny read-only lister runs in the image itself (our runtime image, never a
 * participant's), sandboxed like every run: no network, read-only, no mounts.
 */
import * as CDX from "@cyclonedx/cyclonedx-library";
import { PackageURL } from "packageurl-js";
import { resolveImage } from "../sandbox/index.js";
import {
  condaLicence,
  debianLicence,
  type DebianCopyright,
  licenceReport,
  pythonLicence,
  type Licence,
  type LicencePolicy,
  type LicenceReport,
} from "./licences.js";
import { listInImage } from "./lister.js";

/** The SBOM of a local image (CycloneDX JSON) and its licence report under `policy`. */
export async function imageSbom(
  image: string,
  policy: LicencePolicy,
): Promise<{ json: string; report: LicenceReport }> {
  const { id } = await resolveImage(image);
  const inventory = await readImageInventory(image);
  const json = serializeSbom(buildSbom({ ref: image, id }, inventory, PROCTOR_VERSION));
  return { json, report: licenceReport(inventoryPackages(inventory), policy) };
}

/** What the SBOM names as its tool's version (the CLI's package version, set by the bundle; dev otherwise). */
const PROCTOR_VERSION = process.env.npm_package_version ?? "dev";

/** Lists the image's packages as one JSON object on stdout; reads files only. */
export const LISTER_SCRIPT = String.raw`
import glob, json, os, re
out = {"dpkg_status": None, "copyright": {}, "conda": [], "python": []}
try:
    with open("/var/lib/dpkg/status", encoding="utf-8", errors="replace") as f:
        out["dpkg_status"] = f.read()
except OSError:
    pass
for path in glob.glob("/usr/share/doc/*/copyright"):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        continue
    main, every = None, []
    for para in re.split(r"\n\s*\n", text):
        found = re.search(r"^License:[ \t]*(\S[^\n]*)$", para, re.M)
        if not found:
            continue
        every.append(found.group(1).strip())
        if main is None and re.search(r"^Files:[ \t]*\*[ \t]*$", para, re.M):
            main = found.group(1).strip()
    refs = sorted(set(r.rstrip(".") for r in re.findall(r"/usr/share/common-licenses/([A-Za-z0-9.+-]+)", text)))
    later = bool(re.search(r"any later version", text, re.I))
    out["copyright"][path.split("/")[4]] = {"main": main, "all": every, "refs": refs, "later": later}
for path in sorted(glob.glob("/opt/conda/conda-meta/*.json")):
    with open(path, encoding="utf-8") as f:
        record = json.load(f)
    out["conda"].append({k: record.get(k) for k in ("name", "version", "build", "channel", "subdir", "url", "license", "md5", "sha256")})
import importlib.metadata as metadata
seen = set()
for dist in metadata.distributions():
    meta = dist.metadata
    name = meta["Name"]
    if not name or (name.lower(), dist.version) in seen:
        continue
    seen.add((name.lower(), dist.version))
    where = getattr(dist, "_path", None)
    out["python"].append({
        "name": name,
        "version": dist.version,
        "license_expression": meta.get("License-Expression"),
        "license": meta.get("License"),
        "classifiers": [c for c in (meta.get_all("Classifier") or []) if c.startswith("License ::")],
        "path": str(where) if where else None,
    })
print(json.dumps(out))
`;

export interface DebPackage {
  name: string;
  version: string;
  architecture: string;
  source?: string;
  homepage?: string;
  licence: Licence;
}
export interface CondaPackage {
  name: string;
  version: string;
  build?: string;
  channel?: string;
  subdir?: string;
  url?: string;
  sha256?: string;
  md5?: string;
  licence: Licence;
}
export interface PythonPackage {
  name: string;
  version: string;
  /** Where its metadata is (…/dist-packages/…: Debian's; …/site-packages/…: pip's or conda's). */
  path: string | null;
  licence: Licence;
}

/** What an image holds, package by package. */
export interface ImageInventory {
  deb: DebPackage[];
  conda: CondaPackage[];
  python: PythonPackage[];
}

interface Listed {
  dpkg_status: string | null;
  copyright: Record<string, DebianCopyright>;
  conda: Record<string, string | null>[];
  python: {
    name: string;
    version: string;
    license_expression: string | null;
    license: string | null;
    classifiers: string[];
    path: string | null;
  }[];
}

/** Runs the lister in `image` and reads its inventory. Throws when the run fails (naming the image). */
export async function readImageInventory(image: string): Promise<ImageInventory> {
  const text = await listInImage(image, "the packages (is it a runtime image with python3?)", [
    "python3",
    "-c",
    LISTER_SCRIPT,
  ]);
  let listed: Listed;
  try {
    listed = JSON.parse(text) as Listed;
  } catch {
    throw new Error(
      `the package lister in ${image} printed something other than JSON: is it a proctor runtime image?`,
    );
  }
  return inventoryOf(listed);
}

/** The inventory from the lister's output (exported for tests). */
export function inventoryOf(listed: Listed): ImageInventory {
  const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
  const deb = parseDpkgStatus(listed.dpkg_status ?? "").map((p) => ({
    ...p,
    // A package of another architecture shares its doc folder name with the :arch suffix dropped.
    licence: debianLicence(listed.copyright[p.name]),
  }));
  const conda = listed.conda.map((r) => ({
    name: String(r.name),
    version: String(r.version),
    ...(str(r.build) && { build: str(r.build) }),
    ...(str(r.channel) && { channel: str(r.channel) }),
    ...(str(r.subdir) && { subdir: str(r.subdir) }),
    ...(str(r.url) && { url: str(r.url) }),
    ...(str(r.sha256) && { sha256: str(r.sha256) }),
    ...(str(r.md5) && { md5: str(r.md5) }),
    licence: condaLicence(r.license),
  }));
  const python = listed.python.map((d) => ({
    name: d.name,
    version: d.version,
    path: d.path,
    licence: pythonLicence(d),
  }));
  return { deb, conda, python };
}

/** The installed packages of a dpkg status file (paragraphs whose Status ends in `installed`). */
export function parseDpkgStatus(text: string): Omit<DebPackage, "licence">[] {
  const packages: Omit<DebPackage, "licence">[] = [];
  for (const paragraph of text.split(/\n\s*\n/)) {
    const field = (name: string) => new RegExp(`^${name}:[ \\t]*(.*)$`, "m").exec(paragraph)?.[1]?.trim();
    const [name, version, architecture, status] = ["Package", "Version", "Architecture", "Status"].map(field);
    if (!name || !version || !architecture || !status?.endsWith(" installed")) continue;
    const source = field("Source")?.split(" ")[0];
    const homepage = field("Homepage");
    packages.push({ name, version, architecture, ...(source && { source }), ...(homepage && { homepage }) });
  }
  return packages.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The Debian release the image's packages come from, as the purl's `distro` qualifier. */
const DEBIAN_DISTRO = "debian-12";

export interface SbomSubject {
  /** The image reference, e.g. proctor/runtime:cpu-offline. */
  ref: string;
  /** Its image id (sha256:…). */
  id: string;
}

/** Every package as one row: its kind, name, version and licence (what the licence report judges). */
export function inventoryPackages(inventory: ImageInventory) {
  return [
    ...inventory.deb.map((p) => ({ kind: "deb", name: p.name, version: p.version, licence: p.licence })),
    ...inventory.conda.map((p) => ({ kind: "conda", name: p.name, version: p.version, licence: p.licence })),
    ...inventory.python.map((p) => ({ kind: "pypi", name: p.name, version: p.version, licence: p.licence })),
  ];
}

/** The CycloneDX BOM of an image's inventory. */
export function buildSbom(
  subject: SbomSubject,
  inventory: ImageInventory,
  toolVersion: string,
): CDX.Models.Bom {
  const bom = new CDX.Models.Bom();
  const [name, tag] = splitRef(subject.ref);
  bom.metadata.component = new CDX.Models.Component(CDX.Enums.ComponentType.Container, name, {
    bomRef: `image:${subject.id}`,
    version: tag,
    hashes: new CDX.Models.HashDictionary([
      [CDX.Enums.HashAlgorithm["SHA-256"], subject.id.replace(/^sha256:/, "")],
    ]),
  });
  bom.metadata.tools.components.add(
    new CDX.Models.Component(CDX.Enums.ComponentType.Application, "proctor", { version: toolVersion }),
  );
  const add = (component: CDX.Models.Component) => bom.components.add(component);
  const licences = (licence: Licence) => {
    const repo = new CDX.Models.LicenseRepository();
    if (licence.spdx) repo.add(new CDX.Models.LicenseExpression(licence.spdx));
    else if (licence.declared) repo.add(new CDX.Models.NamedLicense(licence.declared.slice(0, 200)));
    return repo;
  };
  const properties = (entries: Record<string, string | undefined | null>) =>
    new CDX.Models.PropertyRepository(
      Object.entries(entries)
        .filter((e): e is [string, string] => typeof e[1] === "string" && e[1] !== "")
        .map(([k, v]) => new CDX.Models.Property(`proctor:${k}`, v)),
    );

  for (const p of inventory.deb) {
    const purl = new PackageURL(
      "deb",
      "debian",
      p.name,
      p.version,
      { arch: p.architecture, distro: DEBIAN_DISTRO },
      undefined,
    );
    add(
      new CDX.Models.Component(CDX.Enums.ComponentType.Library, p.name, {
        bomRef: purl.toString(),
        purl: purl.toString(),
        version: p.version,
        licenses: licences(p.licence),
        properties: properties({
          source: "dpkg",
          "debian:source": p.source,
          "licence:declared": p.licence.declared,
        }),
      }),
    );
  }
  for (const p of inventory.conda) {
    const channel = p.channel
      ?.replace(/\/(noarch|linux-64)$/, "")
      .split("/")
      .pop();
    const purl = new PackageURL(
      "conda",
      undefined,
      p.name,
      p.version,
      Object.fromEntries(
        Object.entries({ build: p.build, channel, subdir: p.subdir }).filter(
          (e): e is [string, string] => !!e[1],
        ),
      ),
      undefined,
    );
    const hashes = new CDX.Models.HashDictionary();
    if (p.sha256) hashes.set(CDX.Enums.HashAlgorithm["SHA-256"], p.sha256);
    if (p.md5) hashes.set(CDX.Enums.HashAlgorithm.MD5, p.md5);
    add(
      new CDX.Models.Component(CDX.Enums.ComponentType.Library, p.name, {
        bomRef: purl.toString(),
        purl: purl.toString(),
        version: p.version,
        hashes,
        licenses: licences(p.licence),
        properties: properties({ source: "conda-meta", url: p.url, "licence:declared": p.licence.declared }),
      }),
    );
  }
  for (const p of inventory.python) {
    const purl = new PackageURL(
      "pypi",
      undefined,
      p.name.toLowerCase().replace(/[-_.]+/g, "-"),
      p.version,
      undefined,
      undefined,
    );
    add(
      new CDX.Models.Component(CDX.Enums.ComponentType.Library, p.name, {
        bomRef: `${purl.toString()}#${p.path ?? ""}`,
        purl: purl.toString(),
        version: p.version,
        licenses: licences(p.licence),
        properties: properties({
          source: "python-metadata",
          path: p.path,
          "licence:declared": p.licence.declared,
        }),
      }),
    );
  }
  return bom;
}

/** The BOM as CycloneDX 1.6 JSON text. */
export function serializeSbom(bom: CDX.Models.Bom): string {
  const serializer = new CDX.Serialize.JsonSerializer(
    new CDX.Serialize.JSON.Normalize.Factory(CDX.Spec.Spec1dot6),
  );
  return serializer.serialize(bom, { sortLists: true, space: 2 });
}

/** "proctor/runtime:cpu-offline" -> ["proctor/runtime", "cpu-offline"] (a registry port is not a tag). */
function splitRef(ref: string): [string, string | undefined] {
  const at = ref.lastIndexOf(":");
  return at > ref.lastIndexOf("/") ? [ref.slice(0, at), ref.slice(at + 1)] : [ref, undefined];
}
