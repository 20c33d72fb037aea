import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { pythonSyntaxErrors } from "./syntax.js";

describe("pythonSyntaxErrors", () => {
  it("names each Python file that does not parse, with its line; other files are not read", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "proctor-syntax-"));
    try {
      await writeFile(path.join(dir, "main.py"), "import helper\nprint('ok')\n");
      await writeFile(path.join(dir, "helper.py"), "def f(:\n    pass\n");
      await writeFile(path.join(dir, "notes.txt"), "def f(:\n");
      expect(await pythonSyntaxErrors(dir, ["helper.py", "main.py", "notes.txt"])).toEqual([
        expect.stringMatching(/^helper\.py:1: /),
      ]);
      expect(await pythonSyntaxErrors(dir, ["main.py", "notes.txt"])).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
