/**
 * A minimal zip writer for tests: local headers, data and a central directory with every field under the
 * test's control, so it can write what honest tools refuse to (symlinks, "..", lying sizes, overlaps...).
 */
import { constants, crc32, deflateRawSync } from "node:zlib";

export interface RawEntry {
  name: string | Buffer;
  /** Uncompressed content (default empty); compressed per `method` unless `compressed` is given. */
  data?: Buffer;
  /** 0 stored (default), 8 deflate; any other value writes `data` (or `compressed`) as is. */
  method?: number;
  /** The exact bytes after the local header, when `data` is not to be compressed here. */
  compressed?: Buffer;
  /** Declared CRC-32 (default: that of `data`). */
  crc32?: number;
  /** Declared uncompressed size (default: data.length). */
  uncompressedSize?: number;
  /** Declared compressed size (default: the bytes written). */
  compressedSize?: number;
  /** General purpose bits (default 0x800: UTF-8 name). */
  flags?: number;
  /** Default 0x031e: Unix, spec 3.0. */
  versionMadeBy?: number;
  /** Unix st_mode; the external attributes become mode << 16 (default 0o100644, or 0o040755 for "x/"). */
  unixMode?: number;
  /** Overrides unixMode. */
  externalFileAttributes?: number;
  /** The central directory record points at this earlier entry's local header instead (overlaps). */
  localHeaderOf?: number;
}

export interface ZipOptions {
  /** Declared entry count in the end record (default: entries.length). */
  entryCount?: number;
}

/** Builds the bytes of a zip holding `entries`. */
export function zipBytes(entries: RawEntry[], options: ZipOptions = {}): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  const offsets: number[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = typeof entry.name === "string" ? Buffer.from(entry.name, "utf8") : entry.name;
    const data = entry.data ?? Buffer.alloc(0);
    const method = entry.method ?? 0;
    const body = entry.compressed ?? (method === 8 ? deflateRawSync(data) : data);
    const crc = entry.crc32 ?? crc32(data);
    const compressedSize = entry.compressedSize ?? body.length;
    const uncompressedSize = entry.uncompressedSize ?? data.length;
    const flags = entry.flags ?? 0x800;
    const isDir = name.at(-1) === 0x2f;
    const mode = entry.unixMode ?? (isDir ? 0o040755 : 0o100644);
    const external = entry.externalFileAttributes ?? (mode * 0x10000) >>> 0;

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0, 10); // time
    local.writeUInt16LE(0x21, 12); // date: 1980-01-01
    local.writeUInt32LE(crc >>> 0, 14);
    local.writeUInt32LE(compressedSize, 18);
    local.writeUInt32LE(uncompressedSize, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);

    const headerOffset = entry.localHeaderOf === undefined ? offset : offsets[entry.localHeaderOf]!;
    offsets.push(headerOffset);
    if (entry.localHeaderOf === undefined) {
      parts.push(local, name, body);
      offset += local.length + name.length + body.length;
    }

    const record = Buffer.alloc(46);
    record.writeUInt32LE(0x02014b50, 0);
    record.writeUInt16LE(entry.versionMadeBy ?? 0x031e, 4);
    record.writeUInt16LE(20, 6);
    record.writeUInt16LE(flags, 8);
    record.writeUInt16LE(method, 10);
    record.writeUInt16LE(0, 12);
    record.writeUInt16LE(0x21, 14);
    record.writeUInt32LE(crc >>> 0, 16);
    record.writeUInt32LE(compressedSize, 20);
    record.writeUInt32LE(uncompressedSize, 24);
    record.writeUInt16LE(name.length, 28);
    record.writeUInt16LE(0, 30); // extra
    record.writeUInt16LE(0, 32); // comment
    record.writeUInt16LE(0, 34); // disk
    record.writeUInt16LE(0, 36); // internal attributes
    record.writeUInt32LE(external, 38);
    record.writeUInt32LE(headerOffset, 42);
    central.push(record, name);
  }
  const centralBytes = Buffer.concat(central);
  const count = options.entryCount ?? entries.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0, 4);
  end.writeUInt16LE(0, 6);
  end.writeUInt16LE(count, 8);
  end.writeUInt16LE(count, 10);
  end.writeUInt32LE(centralBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  end.writeUInt16LE(0, 20);
  return Buffer.concat([...parts, centralBytes, end]);
}

const MiB = 1024 * 1024;
/** Final, empty, fixed-Huffman deflate block. */
const FINAL_EMPTY_BLOCK = Buffer.from([0x03, 0x00]);

/**
 * Raw deflate of `mib` MiB of zeros without ever holding them: one MiB is compressed with a full flush
 * (byte-aligned, no back-references across it) and the result repeated. About 1 KiB per MiB.
 */
export function deflatedZeros(mib: number): { compressed: Buffer; crc32: number; size: number } {
  const zeros = Buffer.alloc(MiB);
  const chunk = deflateRawSync(zeros, { level: 9, finishFlush: constants.Z_FULL_FLUSH });
  let crc = 0;
  for (let i = 0; i < mib; i++) crc = crc32(zeros, crc);
  const compressed = Buffer.concat([...Array.from({ length: mib }, () => chunk), FINAL_EMPTY_BLOCK]);
  return { compressed, crc32: crc, size: mib * MiB };
}
