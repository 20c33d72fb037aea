/**
 * A participant image's config, checked before the engine sees it, so that whatever the image gets wrong is
 * the participant's (`invalid_submission`, counted, with the fix) and never an engine refusal that reads as
 * the platform's fault: an absolute working folder, no VOLUME on the kernel's folders or the platform's
 * mounts, something to run, a bounded environment, and a USER resolved to numeric ids.
 *
 * The user is resolved as the engine (runc, moby/sys/user) resolves it, against the image's own
 * /etc/passwd and /etc/group; the run then names the numeric `uid:gid` itself, so the engine looks nothing
 * up, and adds no supplementary groups (it does so only for a user given without a group). Never uid 0 or
 * gid 0, by any spelling or by default (a numeric user without a passwd entry gets gid 0): 65534 instead.
 */
import { posix } from "node:path";
import { formatBytes } from "../units/index.js";
import type { InspectedImage } from "./image-archive.js";
import { InvalidImageError, q } from "./image-rules.js";

/** Who the program runs as, and what the result says about it. */
export interface ResolvedUser {
  uid: number;
  gid: number;
  /** For the engine: numeric `uid:gid`. */
  spec: string;
  /** Set when root (uid or gid 0) was replaced: the note for the participant. */
  note?: string;
}

export const NOBODY = 65534;

/** The caps of an image's environment (the engine and the kernel take about this much, ARG_MAX aside). */
export const MAX_ENV_ENTRIES = 1000;
export const MAX_ENV_BYTES = 128 * 1024;

/** Kernel folders a VOLUME may never cover (the engine refuses, or the image would shadow them). */
const KERNEL_FOLDERS = ["/proc", "/sys", "/dev"];

export interface ImageConfigOptions {
  /** Folders the platform mounts in the container (inputs, outputs, scratch, models). */
  platformFolders: string[];
}

/**
 * Checks the image's config and resolves who it runs as. Throws InvalidImageError (invalid_submission)
 * naming the setting, the rule and the fix.
 */
export function checkImageConfig(
  image: Pick<InspectedImage, "archiveName" | "config" | "accounts">,
  options: ImageConfigOptions,
): ResolvedUser {
  const { archiveName, config } = image;
  const refuse = (what: string, fix: string) =>
    new InvalidImageError("bad_config", undefined, undefined, `${q(archiveName)}: ${what}: ${fix}`);
  const workdirProblem = folderProblem(config.workingDir, options.platformFolders, "workdir");
  if (workdirProblem !== undefined) {
    throw refuse(
      `the image's WORKDIR ${q(config.workingDir)} ${workdirProblem}`,
      "set WORKDIR to a folder of the image itself (WORKDIR /opt/algorithm) and build again",
    );
  }
  const [program] = command(config);
  if (program === undefined || program === "") {
    throw refuse(
      "the image has neither ENTRYPOINT nor CMD (or the first word of its command is empty), so there is nothing to run",
      'add ENTRYPOINT ["python3", "/opt/algorithm/inference.py"] (or your program) and build again',
    );
  }
  for (const volume of config.volumes) {
    const problem = folderProblem(volume, options.platformFolders, "volume");
    if (problem !== undefined) {
      throw refuse(
        `the image's VOLUME ${q(volume)} ${problem}`,
        "remove that VOLUME instruction (write scratch files to /tmp) and build again",
      );
    }
  }
  const envBytes = config.env.reduce((sum, entry) => sum + Buffer.byteLength(entry) + 1, 0);
  if (config.env.length > MAX_ENV_ENTRIES || envBytes > MAX_ENV_BYTES) {
    throw refuse(
      `the image's environment has ${config.env.length} variables (${formatBytes(envBytes)}), over ` +
        `${MAX_ENV_ENTRIES} variables or ${formatBytes(MAX_ENV_BYTES)}`,
      "set fewer or shorter ENV values (put large settings in a file of the image)",
    );
  }
  const bad = config.env.find((entry) => entry.includes("\0") || !/^[^=]+=/.test(entry));
  if (bad !== undefined) {
    throw refuse(
      `the image's environment holds ${q(bad)}, which is not NAME=value`,
      "write each ENV as NAME=value and build again",
    );
  }
  return resolveUser(image);
}

/** What the engine runs: an ENTRYPOINT of [""] is none (the engine drops it), then CMD. */
function command(config: InspectedImage["config"]): string[] {
  const entrypoint = config.entrypoint?.length === 1 && config.entrypoint[0] === "" ? [] : config.entrypoint;
  return [...(entrypoint ?? []), ...(config.cmd ?? [])];
}

/** Files the engine mounts over the image's own (a folder cannot be made or mounted there). */
const ENGINE_FILES = ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"];

/** The kernel's limits on a path and on one of its names: longer, the engine fails to make or mount it. */
const MAX_PATH_BYTES = 4095;
const MAX_NAME_BYTES = 255;

/**
 * Why a WORKDIR or VOLUME folder is refused, or undefined when it may stay. The engine makes a missing
 * WORKDIR at start, so one it cannot make (under a read-only or kernel folder, or a platform mount) fails
 * there, as does a VOLUME it cannot mount; either would read as the platform's fault.
 */
function folderProblem(
  folder: string,
  platformFolders: string[],
  kind: "workdir" | "volume",
): string | undefined {
  if (kind === "workdir" && folder === "") return undefined;
  if (!folder.startsWith("/")) return "is not an absolute path";
  const normal = posix.normalize(folder).replace(/(.)\/+$/, "$1");
  if (Buffer.byteLength(normal) > MAX_PATH_BYTES) return `is longer than ${MAX_PATH_BYTES} bytes`;
  if (normal.split("/").some((name) => Buffer.byteLength(name) > MAX_NAME_BYTES))
    return `has a name longer than ${MAX_NAME_BYTES} bytes`;
  const within = (other: string) => normal === other || normal.startsWith(`${other}/`);
  if (normal === "/") return kind === "volume" ? "covers the whole filesystem" : undefined;
  // A working folder may be /dev (or a new folder in it: the engine's /dev is a tmpfs), never a volume.
  const kernel = KERNEL_FOLDERS.find((other) => within(other) && (kind === "volume" || other !== "/dev"));
  if (kernel !== undefined) return `is inside ${kernel}, which the kernel provides`;
  const file = ENGINE_FILES.find(within);
  if (file !== undefined) return `is at ${file}, a file the engine provides`;
  const mounted =
    kind === "volume"
      ? platformFolders.find((other) => within(other) || other.startsWith(`${normal}/`))
      : platformFolders.find((other) => normal.startsWith(`${other}/`));
  if (mounted !== undefined) {
    return kind === "volume"
      ? `overlaps ${mounted}, which the platform mounts itself`
      : `is inside ${mounted}, which the platform mounts itself (the engine cannot make a folder there)`;
  }
  return undefined;
}

/** A line of /etc/passwd or /etc/group: its name and id (a group's members never count: see above). */
interface AccountLine {
  name: string;
  id: number;
  /** passwd: the user's primary group; group: unused (0). */
  gid: number;
}

/**
 * Lines of /etc/passwd or /etc/group as moby/sys/user reads them: blank lines skipped, fields split on
 * ":", a number that does not parse read as 0 (as Go's ignored strconv.Atoi error leaves it).
 */
function parseAccounts(text: string | null, kind: "passwd" | "group"): AccountLine[] {
  if (text === null) return [];
  const number = (field: string | undefined) => {
    const n = goAtoi(field ?? "");
    return n === undefined ? 0 : n;
  };
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .map((line) => {
      const fields = line.split(":");
      return { name: fields[0]!, id: number(fields[2]), gid: kind === "passwd" ? number(fields[3]) : 0 };
    });
}

/** Go's strconv.Atoi: an optional sign and decimal digits (leading zeros too); undefined otherwise. */
function goAtoi(text: string): number | undefined {
  if (!/^[+-]?[0-9]+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

const MAX_ID = 2 ** 31 - 1;

/** The image's USER as numeric ids (see the file's comment); InvalidImageError when it cannot be resolved. */
export function resolveUser(
  image: Pick<InspectedImage, "archiveName" | "config" | "accounts">,
): ResolvedUser {
  const { archiveName, accounts } = image;
  const spec = image.config.user;
  const refuse = (what: string, fix: string) =>
    new InvalidImageError("unknown_user", undefined, undefined, `${q(archiveName)}: ${what}: ${fix}`);
  const colon = spec.indexOf(":");
  const userArg = colon < 0 ? spec : spec.slice(0, colon);
  const groupArg = colon < 0 ? "" : spec.slice(colon + 1);
  if (groupArg.includes(":")) {
    throw refuse(
      `the image's USER ${q(spec)} is not user or user:group`,
      "write USER 1000 or USER 1000:1000",
    );
  }
  const uidArg = goAtoi(userArg);
  const inRange = (n: number) => n >= 0 && n <= MAX_ID;
  if (uidArg !== undefined && !inRange(uidArg)) {
    throw refuse(`the image's USER ${q(spec)} is out of range`, `use a uid from 1 to ${MAX_ID}`);
  }
  const passwd = parseAccounts(accounts.passwd, "passwd");
  const user = passwd.find((line) =>
    userArg === "" ? line.id === 0 : uidArg !== undefined ? line.id === uidArg : line.name === userArg,
  );
  if (user === undefined && userArg !== "" && uidArg === undefined) {
    throw refuse(
      `the image's USER ${q(userArg)} is not in its /etc/passwd${accounts.passwd === null ? " (it has none)" : ""}`,
      "use a numeric USER (e.g. USER 1000), or create the user in the image (RUN useradd …)",
    );
  }
  let uid = user?.id ?? uidArg ?? 0;
  let gid = user?.gid ?? 0;
  if (groupArg !== "") {
    const gidArg = goAtoi(groupArg);
    if (gidArg !== undefined && !inRange(gidArg)) {
      throw refuse(`the image's USER ${q(spec)} has a group out of range`, `use a gid from 1 to ${MAX_ID}`);
    }
    const group = parseAccounts(accounts.group, "group").find((line) =>
      gidArg !== undefined ? line.id === gidArg : line.name === groupArg,
    );
    if (group === undefined && gidArg === undefined) {
      throw refuse(
        `the image's USER ${q(spec)} names group ${q(groupArg)}, which is not in its /etc/group${accounts.group === null ? " (it has none)" : ""}`,
        "use a numeric group (e.g. USER 1000:1000), or create the group in the image (RUN groupadd …)",
      );
    }
    gid = group?.id ?? gidArg!;
  }
  const replaced: string[] = [];
  if (uid === 0) {
    uid = NOBODY;
    replaced.push("uid 0");
  }
  if (gid === 0) {
    gid = NOBODY;
    replaced.push("gid 0");
  }
  const asked = spec === "" ? "is unset (root)" : `is ${q(spec)}`;
  return {
    uid,
    gid,
    spec: `${uid}:${gid}`,
    ...(replaced.length > 0 && {
      note:
        `the image's USER ${asked}, which runs with ${replaced.join(" and ")}: it ran as ${uid}:${gid} instead ` +
        `(${NOBODY} is nobody), since nothing runs as root; make what the program reads world-readable, or set ` +
        `USER to a numeric non-root user and group (USER 1000:1000)`,
    }),
  };
}
