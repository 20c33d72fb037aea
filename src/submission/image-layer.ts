/**
 * One layer of a participant's image archive, streamed through gunzip (when gzipped) and tar-stream: its
 * entries checked one by one as Docker's reader (Go's archive/tar) will read them (names, links, device
 * files, sparse files), its uncompressed digest measured, its size counted as loading will write it, and
 * what it does to /etc/passwd and /etc/group kept for the never-root rule.
 */
import { createHash, type Hash } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { extract as tarExtract, type Header } from "tar-stream";
import { formatBytes, MiB } from "../units/index.js";
import type { AccountFiles, ImageLayer, Pass } from "./image-archive.js";
import {
  RESAVE,
  checkTarName,
  q,
  refuseArchive,
  refuseLayer,
  symlinkEscapes,
  tooLarge,
} from "./image-rules.js";
import { Meter, mapStreamError, ratioCheck } from "./image-stream.js";

/** The most of /etc/passwd or /etc/group the scan reads (a real one is a few KiB). */
export const MAX_ACCOUNT_FILE_BYTES = MiB;

/** What the scan keeps of one layer while it streams; bounded by the layer's entries. */
interface LayerState {
  /** Size once extracted of each file so far, by normalised path: a hard link counts at its target's. */
  sizes: Map<string, number>;
  /** Bytes loading writes beyond the tar stream: sparse files' holes, hard links' targets. */
  extra: number;
  /** /etc/passwd and /etc/group as the layer's entries so far leave them, in tar order. */
  accounts: AccountFiles;
  /** The layer hides the lower layers' /etc (an opaque whiteout of / or of /etc). */
  opaqueEtc: boolean;
}

/** What the scan does with an entry once checked. */
interface EntryPlan {
  /** Its name as Docker reads it (a sparse file's GNU.sparse.name). */
  name: string;
  /** Bytes it takes once extracted beyond what it streams. */
  extra: number;
  /** Read its text as the layer's /etc/passwd or /etc/group. */
  account?: "passwd" | "group";
}

/** Streams one layer through gunzip (when gzipped) and tar-stream, checking every entry. */
export async function scanLayer(
  body: AsyncIterable<Buffer>,
  gzipped: boolean,
  layer: string,
  pass: Pass,
): Promise<Omit<ImageLayer, "path" | "digest">> {
  const { archiveName, limits } = pass;
  pass.layersScanned++;
  if (pass.layersScanned > limits.maxLayers) {
    throw refuseArchive(
      "too_many_layers",
      archiveName,
      layer,
      `the archive holds more than ${limits.maxLayers} layers`,
      "combine RUN steps in the Dockerfile (one RUN with && between commands) and save one image",
    );
  }
  let stored = 0;
  const source = Readable.from(
    (async function* () {
      for await (const chunk of body) {
        stored += chunk.length;
        yield chunk;
      }
    })(),
  );
  const diffHash: Hash = createHash("sha256");
  const state: LayerState = { sizes: new Map(), extra: 0, accounts: {}, opaqueEtc: false };
  let streamed = 0;
  let counted = 0;
  // The layer's size once extracted: its tar stream plus what its entries add (sparse holes, hard links).
  // `cause` names the entry whose real size tipped it over.
  const measure = (cause?: { name: string; what: string }): void => {
    const bytes = streamed + state.extra;
    pass.layerBytes += bytes - counted;
    counted = bytes;
    const because = cause === undefined ? "" : `; ${cause.what}`;
    if (bytes > limits.maxLayerBytes) {
      throw refuseLayer(
        "layer_too_large",
        archiveName,
        layer,
        cause?.name,
        tooLarge("the layer, its files at their size once extracted,", bytes, limits.maxLayerBytes) + because,
        "split the step that makes it, or leave large files out of the image",
      );
    }
    if (pass.layerBytes > limits.maxUncompressedBytes) {
      throw refuseLayer(
        "uncompressed_too_large",
        archiveName,
        layer,
        cause?.name,
        tooLarge(
          "the image's layers together, their files at their size once extracted,",
          pass.layerBytes,
          limits.maxUncompressedBytes,
        ) + because,
        "make the image smaller (a slim base image, no training data or caches in it)",
      );
    }
  };
  const meter = new Meter((bytes) => {
    streamed = bytes;
    measure();
    if (gzipped && ratioCheck(bytes, stored, limits.maxCompressionRatio)) {
      throw refuseLayer(
        "compression_ratio",
        archiveName,
        layer,
        undefined,
        `the layer expands over ${limits.maxCompressionRatio}× (${formatBytes(stored)} to ${formatBytes(bytes)} so far), which marks a gzip bomb`,
        "leave out files that are mostly one repeated byte",
      );
    }
  }, diffHash);
  const inner = tarExtract();
  const stages: NodeJS.ReadWriteStream[] = gzipped ? [createGunzip(), meter] : [meter];
  const feeding = pipeline([source, ...stages, inner]).catch((error: unknown) => error);
  let entries = 0;
  try {
    for await (const entry of inner) {
      entries++;
      pass.layerEntries++;
      const body = entry as unknown as Readable;
      if (pass.layerEntries > limits.maxLayerEntries) {
        throw refuseLayer(
          "too_many_layer_entries",
          archiveName,
          layer,
          entry.header.name,
          `the image's layers hold more than ${limits.maxLayerEntries} entries`,
          "leave caches and datasets out of the image, or bundle many small files into one",
        );
      }
      if (hasGlobalPax(inner)) {
        // tar-stream folds a global PAX header's records (a `path` too) into later entries; Go's reader,
        // Docker's, ignores them: the two would read different names.
        throw refuseLayer(
          "unsupported_entry",
          archiveName,
          layer,
          entry.header.name,
          "the layer holds a global PAX header, which Docker's reader ignores and ours would not",
          "build the image with `docker build` and save it with `docker save -o algorithm.tar <image>`; do not make layers with other tar tools",
        );
      }
      const plan = checkLayerEntry(pass, layer, state, entry.header);
      if (plan.extra > 0) {
        state.extra += plan.extra;
        measure({ name: plan.name, what: extraWhat(entry.header, plan.extra) });
      }
      if (plan.account === undefined) {
        body.resume();
        await ended(body);
      } else {
        state.accounts[plan.account] = (await readAll(body)).toString("utf8");
      }
    }
  } catch (error) {
    inner.destroy();
    source.destroy();
    await feeding;
    // Drain what is left of the outer entry, so the archive's stream can go on to report.
    throw mapStreamError(error, pass, layer) ?? error;
  }
  const failed = await feeding;
  if (failed !== undefined) throw mapStreamError(failed, pass, layer) ?? failed;
  const { accounts } = state;
  // An opaque /etc hides the lower layers' files, but not those this layer writes (before or after it).
  if (state.opaqueEtc) {
    accounts.passwd ??= null;
    accounts.group ??= null;
  }
  return {
    diffId: `sha256:${diffHash.digest("hex")}`,
    compression: gzipped ? "gzip" : "none",
    storedBytes: stored,
    uncompressedBytes: counted,
    entries,
    accounts,
  };
}

/** Whether tar-stream has read a global PAX header (tar-stream 3 keeps it in `_paxGlobal`). */
function hasGlobalPax(extract: unknown): boolean {
  const global = (extract as { _paxGlobal?: unknown })._paxGlobal;
  return global !== null && global !== undefined;
}

function extraWhat(header: Header, extra: number): string {
  return header.type === "link"
    ? `the entry is a hard link to a file of ${formatBytes(extra)}`
    : `the entry is a sparse file of ${formatBytes(extra + header.size)} once extracted (${formatBytes(header.size)} stored)`;
}

function ended(body: Readable): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (body.readableEnded) return resolve();
    body.once("end", resolve);
    body.once("error", reject);
  });
}

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const HEADER_ONLY = new Set(["link", "symlink", "character-device", "block-device", "directory", "fifo"]);
const NOT_SPARSE =
  "save the image without sparse files: build it with `docker build` and save it with `docker save -o algorithm.tar <image>`";

/**
 * A GNU sparse file as Go's archive/tar (Docker's reader) recognises one in readGNUSparsePAXHeaders: PAX
 * format 1.0 (GNU.sparse.major=1, minor=0), 0.1 (GNU.sparse.map) or 0.0 (GNU.sparse.offset/numbytes
 * records, which Go joins into a map); an unknown version is not sparse. Go then names the file
 * GNU.sparse.name and sizes it GNU.sparse.size, else GNU.sparse.realsize.
 * tar-stream keeps the last of repeated records, so "recognised" here is only claimed where that cannot
 * differ from Go; `ambiguous` is returned where it could (GNU.sparse records Go may or may not take).
 */
function sparseHeaders(
  pax: Record<string, string> | undefined,
): { name?: string; size?: string } | "ambiguous" | undefined {
  if (pax === undefined) return undefined;
  const major = pax["GNU.sparse.major"] ?? "";
  const minor = pax["GNU.sparse.minor"] ?? "";
  const versioned = major !== "" || minor !== "";
  const known = (major === "0" && (minor === "0" || minor === "1")) || (major === "1" && minor === "0");
  const mapped = [pax["GNU.sparse.map"], pax["GNU.sparse.offset"], pax["GNU.sparse.numbytes"]].some(
    (value) => value !== undefined && value !== "",
  );
  if (versioned ? known : mapped) {
    const name = pax["GNU.sparse.name"] || undefined;
    const size = pax["GNU.sparse.size"] || pax["GNU.sparse.realsize"] || undefined;
    return { ...(name === undefined ? {} : { name }), ...(size === undefined ? {} : { size }) };
  }
  return Object.keys(pax).some((key) => key.startsWith("GNU.sparse.")) ? "ambiguous" : undefined;
}

function paxRecords(header: Header): Record<string, string> | undefined {
  const pax = header.pax;
  return pax !== null && typeof pax === "object" ? (pax as Record<string, string>) : undefined;
}

function checkLayerEntry(pass: Pass, layer: string, state: LayerState, header: Header): EntryPlan {
  const { archiveName } = pass;
  const refuse = (rule: Parameters<typeof refuseLayer>[0], name: string, what: string, fix: string) =>
    refuseLayer(rule, archiveName, layer, name, what, fix);
  const fix = "remove it from the image (a RUN step that deletes it does not: rebuild without it)";
  // tar-stream gives unknown typeflags (GNU's old sparse 'S' among them) as null.
  const type: string | null = header.type ?? null;
  const size = header.size;
  const sparse = sparseHeaders(paxRecords(header));
  if (sparse === "ambiguous") {
    throw refuse(
      "unsupported_entry",
      header.name,
      "the entry has GNU sparse headers of a form Docker's reader may read otherwise than ours",
      NOT_SPARSE,
    );
  }
  const name = sparse?.name ?? header.name;
  const checked = checkTarName(name);
  if ("rule" in checked) throw refuse(checked.rule, name, checked.what, fix);
  const path = checked.segments.join("/");
  if (type === null) {
    throw refuse(
      "unsupported_entry",
      name,
      "the layer holds an entry of a type Docker does not extract as a file, folder or link (such as an old GNU sparse file, typeflag S), whose size once extracted cannot be read",
      NOT_SPARSE,
    );
  }
  if (type === "contiguous-file") {
    throw refuse(
      "unsupported_entry",
      name,
      "the layer holds a contiguous file (typeflag 7), which `docker load` refuses (unhandled tar header type)",
      RESAVE,
    );
  }
  if (HEADER_ONLY.has(type) && size > 0) {
    // Go's reader reads no data after such a header and tar-stream reads `size` bytes: they would part ways.
    throw refuse(
      "unsupported_entry",
      name,
      `the ${type.replace("-", " ")} entry carries ${formatBytes(size)} of data, which Docker's reader would read as further entries`,
      RESAVE,
    );
  }
  let realSize = size;
  if (sparse !== undefined) {
    if (type !== "file") {
      throw refuse("corrupt_layer", name, `the ${type} entry has GNU sparse headers`, RESAVE);
    }
    if (sparse.size !== undefined) {
      if (!/^\+?\d+$/.test(sparse.size)) {
        throw refuse(
          "corrupt_layer",
          name,
          `the sparse file's size ${q(sparse.size)} is not a number`,
          RESAVE,
        );
      }
      realSize = Math.max(size, Number(sparse.size));
    }
  }
  const plan: EntryPlan = { name, extra: realSize - size };
  if (type === "character-device" || type === "block-device") {
    // The engine mounts its own /dev over the image's at run time, so nodes directly in /dev never show
    // (a debootstrap tree imported whole carries them).
    const inDev = checked.segments.length === 2 && checked.segments[0] === "dev";
    if (!inDev) {
      throw refuse(
        "device_file",
        name,
        `the layer holds a ${type.replace("-", " ")} outside /dev, which an image may not carry`,
        `${fix}; the container gets the devices it needs from the engine`,
      );
    }
  } else if (path === "dev" && type !== "directory") {
    throw refuse(
      "device_file",
      name,
      `/dev is a ${type.replace("-", " ")} in this layer, where the engine mounts its own /dev`,
      "leave /dev out of the image, or keep it an empty folder",
    );
  }
  if (type === "link") {
    const target = checkTarName(header.linkname ?? "");
    if ("rule" in target || target.segments.length === 0) {
      throw refuse(
        "link_escape",
        name,
        `the hard link points to ${q(header.linkname ?? "")}, outside the layer`,
        "make it a copy or a relative symbolic link inside the image",
      );
    }
    // Counted at its target's size, as `docker load` is asked to write it.
    plan.extra = state.sizes.get(target.segments.join("/")) ?? 0;
  } else if (type === "symlink") {
    if (symlinkEscapes(checked.segments, header.linkname ?? "")) {
      throw refuse(
        "link_escape",
        name,
        `the symbolic link points to ${q(header.linkname ?? "")}, which climbs above the image's root`,
        "point it at an absolute path inside the image, or fewer ../",
      );
    }
  } else if (type !== "file" && !HEADER_ONLY.has(type)) {
    throw refuse("corrupt_layer", name, `the layer holds an entry of unknown type (${type})`, RESAVE);
  }
  const onDisk = type === "file" ? realSize : type === "link" ? plan.extra : 0;
  if (onDisk > 0) state.sizes.set(path, onDisk);
  else state.sizes.delete(path);
  const account = accountEffect(state, checked.segments, type, sparse !== undefined, size);
  if (account !== undefined) {
    if (account.what !== undefined) throw refuse(account.rule, name, account.what, account.fix);
    plan.account = account.read;
  }
  return plan;
}

type AccountRefusal = {
  rule: "account_file_link" | "account_file_type" | "account_file_too_large";
  what: string;
  fix: string;
};

/**
 * What an entry does to /etc/passwd and /etc/group: updates the layer's state for whiteouts, returns the
 * file to read, or a refusal where the engine would resolve the file in a way the check does not read.
 */
function accountEffect(
  state: LayerState,
  segments: string[],
  type: string,
  sparse: boolean,
  size: number,
): ({ read: "passwd" | "group"; what?: undefined } | AccountRefusal) | undefined {
  const { accounts } = state;
  const [top, file, ...deeper] = segments;
  if (segments.length === 1 && top === ".wh.etc") {
    accounts.passwd = null;
    accounts.group = null;
    return undefined;
  }
  if (segments.length === 1 && top === ".wh..wh..opq") {
    state.opaqueEtc = true;
    return undefined;
  }
  if (top !== "etc") return undefined;
  const linkFix =
    "make /etc a folder and /etc/passwd and /etc/group regular files in the image (no symbolic or hard links)";
  if (file === undefined) {
    if (type === "directory") return undefined;
    return type === "symlink" || type === "link"
      ? {
          rule: "account_file_link",
          what: "/etc is a link, which the user check does not follow",
          fix: linkFix,
        }
      : {
          rule: "account_file_type",
          what: `/etc is a ${type.replace("-", " ")}, not a folder`,
          fix: linkFix,
        };
  }
  if (deeper.length === 0 && file === ".wh..wh..opq") {
    state.opaqueEtc = true;
    return undefined;
  }
  if (deeper.length === 0 && (file === ".wh.passwd" || file === ".wh.group")) {
    accounts[file === ".wh.passwd" ? "passwd" : "group"] = null;
    return undefined;
  }
  if (file !== "passwd" && file !== "group") return undefined;
  const shown = `/etc/${file}`;
  if (deeper.length > 0) {
    return {
      rule: "account_file_type",
      what: `the layer makes ${shown} a folder`,
      fix: `keep ${shown} a regular file`,
    };
  }
  if (type === "symlink" || type === "link") {
    return {
      rule: "account_file_link",
      what: `${shown} is a ${type === "link" ? "hard" : "symbolic"} link, which the user check does not follow`,
      fix: linkFix,
    };
  }
  if (type !== "file" || sparse) {
    return {
      rule: "account_file_type",
      what: `${shown} is ${sparse ? "a sparse file" : `a ${type.replace("-", " ")}`}, not a regular file`,
      fix: `make ${shown} a regular text file`,
    };
  }
  if (size > MAX_ACCOUNT_FILE_BYTES) {
    return {
      rule: "account_file_too_large",
      what: `${shown} is ${formatBytes(size)}, over the ${formatBytes(MAX_ACCOUNT_FILE_BYTES)} the user check reads`,
      fix: `keep ${shown} to the image's own accounts`,
    };
  }
  return { read: file };
}
