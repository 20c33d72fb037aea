import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";

/** A .npy file (format 1.0) of the given dtype and raw data. */
export function npy(descr: string, shape: string, data: Buffer): Buffer {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  // Magic (6) + version (2) + length (2) + header + newline, padded to 64 bytes as numpy does.
  header = header.padEnd(Math.ceil((10 + header.length + 1) / 64) * 64 - 10 - 1, " ") + "\n";
  const length = Buffer.alloc(2);
  length.writeUInt16LE(header.length);
  return Buffer.concat([
    Buffer.from("\x93NUMPY\x01\x00", "latin1"),
    length,
    Buffer.from(header, "latin1"),
    data,
  ]);
}

/** float32 values as a 1-D .npy. */
export function float32Npy(values: number[]): Buffer {
  const data = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => data.writeFloatLE(v, i * 4));
  return npy("<f4", `(${values.length},)`, data);
}

/** A .safetensors file with one float32 tensor. */
export function safetensors(values: number[]): Buffer {
  const data = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => data.writeFloatLE(v, i * 4));
  const header = Buffer.from(
    JSON.stringify({ w: { dtype: "F32", shape: [values.length], data_offsets: [0, data.length] } }),
  );
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([length, header, data]);
}

/** The first bytes of a Python pickle (protocol 4), as torch.save would start one. */
export const PICKLE_BYTES = Buffer.from("80049510000000000000008c08627569c0", "hex");

export const sha256Of = (content: Buffer) => createHash("sha256").update(content).digest("hex");

/** Writes `files` (relative path → content) under `dir`; each file's models.yml line (path, sha256, size). */
export async function writeModelFiles(dir: string, files: Record<string, Buffer>): Promise<string[]> {
  const lines: string[] = [];
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
    lines.push(`{ path: ${name}, sha256: ${sha256Of(content)}, size: ${content.length} }`);
  }
  return lines;
}
