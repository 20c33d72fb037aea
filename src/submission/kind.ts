import { open } from "node:fs/promises";

/**
 * What a submitted file is, from its first bytes: a zip (`PK`), or an image archive (`docker save`: a tar,
 * or a gzipped one); "unknown" for anything else (the zip checks then say why it is refused).
 */
export async function submissionFileKind(file: string): Promise<"zip" | "image" | "unknown"> {
  const handle = await open(file, "r");
  try {
    const head = Buffer.alloc(512);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    if (bytesRead >= 4 && head.readUInt16BE(0) === 0x504b) return "zip";
    if (bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "image";
    if (bytesRead === 512 && head.subarray(257, 262).toString("latin1") === "ustar") return "image";
    return "unknown";
  } finally {
    await handle.close();
  }
}
