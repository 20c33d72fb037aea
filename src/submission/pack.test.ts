import { mkdir, mkdtemp, readFile, rm, symlink, writeFile, chmod } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { extractSubmission } from "./extract.js";
import { packSubmission, PackError } from "./pack.js";
import { sha256File } from "./hash.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-pack-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function folder(name: string, files: Record<string, string>): Promise<string> {
  const root = path.join(dir, name);
  for (const [file, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await writeFile(path.join(root, file), content);
  }
  return root;
}

describe("packSubmission", () => {
  it("is reproducible: the same files give byte-identical zips whatever their times", async () => {
    const a = await folder("a", {
      "main.py": "print(1)\n",
      "lib/util.py": "x = 1\n",
      "model.bin": "weights",
    });
    const first = await packSubmission(a, path.join(dir, "a1.zip"));
    await writeFile(path.join(a, "main.py"), "print(1)\n"); // new mtime, same content
    await packSubmission(a, path.join(dir, "a2.zip"));
    expect(await sha256File(path.join(dir, "a1.zip"))).toBe(await sha256File(path.join(dir, "a2.zip")));
    expect(first.files).toEqual(["lib/util.py", "main.py", "model.bin"]);
  });

  it("leaves out caches, VCS folders and editor litter, and the result extracts cleanly", async () => {
    const b = await folder("b", {
      "main.py": "print(1)\n",
      "__pycache__/main.cpython-311.pyc": "x",
      ".git/HEAD": "ref",
      ".ipynb_checkpoints/nb.ipynb": "{}",
      "helper.pyc": "x",
      ".DS_Store": "x",
      "notes.txt~": "x",
    });
    const packed = await packSubmission(b, path.join(dir, "b.zip"));
    expect(packed.files).toEqual(["main.py"]);
    expect(packed.skipped.sort()).toEqual([
      ".DS_Store",
      ".git/",
      ".ipynb_checkpoints/",
      "__pycache__/",
      "helper.pyc",
      "notes.txt~",
    ]);
    const extracted = await extractSubmission(path.join(dir, "b.zip"), path.join(dir, "b-out"));
    expect(extracted.entrypoint).toBe("main.py");
    expect(await readFile(path.join(extracted.root, "main.py"), "utf8")).toBe("print(1)\n");
  });

  it("keeps the executable bit of main.sh", async () => {
    const c = await folder("c", { "main.sh": "echo hi\n" });
    await chmod(path.join(c, "main.sh"), 0o755);
    await packSubmission(c, path.join(dir, "c.zip"));
    const extracted = await extractSubmission(path.join(dir, "c.zip"), path.join(dir, "c-out"));
    expect(extracted.entrypoint).toBe("main.sh");
  });

  it("refuses a folder without main.py or main.sh, and symlinks, naming them", async () => {
    const d = await folder("d", { "model.py": "x" });
    await expect(packSubmission(d, path.join(dir, "d.zip"))).rejects.toThrow(/no main\.py or main\.sh/);
    const e = await folder("e", { "main.py": "x" });
    await symlink("/etc/passwd", path.join(e, "passwd"));
    await expect(packSubmission(e, path.join(dir, "e.zip"))).rejects.toThrow(PackError);
    await expect(packSubmission(e, path.join(dir, "e.zip"))).rejects.toThrow(/passwd is a symbolic link/);
  });
});
