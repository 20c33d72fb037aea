/**
 * yauzl glue: opens a zip by descriptor (the file checked is the file read) and runs every central-directory
 * entry through the rules. Shared by inspection and extraction.
 */
import { close, constants, fstat as fstatCb, open, promises as fsp } from "node:fs";
import { promisify } from "node:util";
import { basename } from "node:path";
import yauzl, { type ZipFile } from "yauzl";
import type { ZipLimits } from "./limits.js";
import { FdReader } from "./reader.js";
import { ArchiveRules, type ArchivePlan, notAZip, refusalForReadError, zipTooLarge } from "./rules.js";

const openFd = promisify(open);
const fstat = promisify(fstatCb);
const closeFd = promisify(close);

export interface OpenArchive {
  zipfile: ZipFile;
  /** What yauzl reads through; also serves entry data to the synchronous writer. */
  reader: FdReader;
  /** Descriptor of the zip; owned by yauzl, valid until close(). */
  fd: number;
  zipBytes: number;
  /** The zip's base name, for messages (never the full server path). */
  zipName: string;
  rules: ArchiveRules;
  /** Releases the descriptor once the last open read stream ends. */
  close(): void;
}

/**
 * Opens the zip after checking it is a regular file within the size cap; refuses anything that is not a zip.
 * `name`: how messages name the zip (default its file name; a gateway's storage file means nothing to its sender).
 */
export async function openArchive(zipPath: string, limits: ZipLimits, name?: string): Promise<OpenArchive> {
  const zipName = name ?? basename(zipPath);
  const stats = await fsp.stat(zipPath).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") throw new Error(`submission zip ${JSON.stringify(zipPath)} does not exist`);
    throw error;
  });
  if (!stats.isFile()) throw notAZip(zipName, "not a regular file");
  if (stats.size > limits.maxZipBytes) throw zipTooLarge(zipName, stats.size, limits.maxZipBytes);

  // O_NONBLOCK: should the path be swapped for a FIFO after the stat, opening it must not hang.
  const fd = await openFd(zipPath, constants.O_RDONLY | constants.O_NONBLOCK);
  const reader = new FdReader(fd);
  let zipfile: ZipFile;
  let zipBytes: number;
  try {
    const opened = await fstat(fd);
    if (!opened.isFile()) throw notAZip(zipName, "not a regular file");
    zipBytes = opened.size;
    if (zipBytes > limits.maxZipBytes) throw zipTooLarge(zipName, zipBytes, limits.maxZipBytes);
    zipfile = await new Promise<ZipFile>((resolve, reject) => {
      yauzl.fromRandomAccessReader(
        reader,
        zipBytes,
        // decodeStrings off: names are decoded and judged by our rules, not rewritten or refused by yauzl.
        { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true },
        (error, opened) => (error ? reject(error) : resolve(opened)),
      );
    }).catch((error: unknown) => {
      throw refusalForReadError(error, zipName, undefined) === undefined
        ? error
        : notAZip(zipName, (error as Error).message);
    });
  } catch (error) {
    await closeFd(fd);
    throw error;
  }
  // From here yauzl owns the descriptor: it closes it when the zipfile and its last read stream are done.
  return {
    zipfile,
    reader,
    fd,
    zipBytes,
    zipName,
    rules: new ArchiveRules(limits, zipName, zipBytes),
    close: () => zipfile.close(),
  };
}

/** Reads the whole central directory through the rules; throws the first refusal. */
export async function readPlan(archive: OpenArchive): Promise<ArchivePlan> {
  const { zipfile, rules, zipName } = archive;
  rules.checkEntryCount(zipfile.entryCount);
  let index = 0;
  try {
    for await (const entry of zipfile.eachEntry()) {
      const name = yauzl.getFileNameLowLevel(
        entry.generalPurposeBitFlag,
        entry.fileNameRaw,
        entry.extraFields,
        true,
      );
      rules.add({
        name,
        generalPurposeBitFlag: entry.generalPurposeBitFlag,
        compressionMethod: entry.compressionMethod,
        compressedSize: entry.compressedSize,
        uncompressedSize: entry.uncompressedSize,
        externalFileAttributes: entry.externalFileAttributes,
        relativeOffsetOfLocalHeader: entry.relativeOffsetOfLocalHeader,
        crc32: entry.crc32,
      });
      index++;
    }
  } catch (error) {
    // yauzl fails before it hands over the entry, so name its position in the central directory.
    throw refusalForReadError(error, zipName, undefined, `central directory entry #${index + 1}`) ?? error;
  }
  return rules.finish();
}
