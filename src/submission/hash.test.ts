import { createHash, randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { sha256File } from "./hash.js";
import { tempDir } from "./test-support/fixtures.js";

it("sha256File hashes a file larger than its read chunk", async () => {
  const dir = await tempDir();
  try {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const path = join(dir, "blob");
    await fsp.writeFile(path, data);
    expect(await sha256File(path)).toBe(createHash("sha256").update(data).digest("hex"));
    await fsp.writeFile(path, "");
    expect(await sha256File(path)).toBe(createHash("sha256").digest("hex"));
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});
