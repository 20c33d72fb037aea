import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";

// The entrypoint's stamper (runtime/entrypoint.sh's stamp()), run on its own on this machine: the block
// that defines it, then stamp reading the test's pipe. The engine test of the same is in entrypoint.test.ts.
const CAP = 64 * 1024;
const STAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z(\+?) /;
/** The stamper's address space: a third of the long line below, so holding that line would fail. */
const ADDRESS_SPACE_KIB = 16 * 1024;

async function stamper(): Promise<{ child: ChildProcessWithoutNullStreams; lines: AsyncIterator<string> }> {
  const entrypoint = await readFile("runtime/entrypoint.sh", "utf8");
  const block = /^if command -v perl .*?^fi$/ms.exec(entrypoint);
  if (!block)
    throw new Error("runtime/entrypoint.sh no longer defines stamp() in an `if command -v perl` block");
  const child = spawn("bash", ["-c", `ulimit -v ${ADDRESS_SPACE_KIB}\n${block[0]}\nstamp`]);
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return { child, lines };
}

/** A stamped line without its stamp, and whether it goes on the line before it. */
function piece(line: string): { continued: boolean; text: string } {
  const stamp = STAMP.exec(line);
  expect(stamp, line.slice(0, 40)).not.toBeNull();
  return { continued: stamp![1] === "+", text: line.slice(stamp![0].length) };
}

async function write(child: ChildProcessWithoutNullStreams, bytes: string | Buffer): Promise<void> {
  if (!child.stdin.write(bytes)) await once(child.stdin, "drain");
}

async function next(lines: AsyncIterator<string>): Promise<{ continued: boolean; text: string }> {
  const { value, done } = await lines.next();
  expect(done, "the stamper ended early").toBeFalsy();
  return piece(value as string);
}

describe("the runtime's stamper", () => {
  it("passes a 50 MB line without a newline in 64 KiB pieces, within bounded memory, and keeps what follows", async () => {
    const { child, lines } = await stamper();
    const chunk = Buffer.alloc(CAP, "x");
    const feeding = (async () => {
      for (let i = 0; i < 800; i++) await write(child, chunk); // 52 428 800 bytes, no newline
      await write(child, "\nafter\nlast, without a newline");
      child.stdin.end();
    })();
    const first = await next(lines);
    expect(first).toEqual({ continued: false, text: "x".repeat(CAP) });
    let pieces = 1;
    let bytes = first.text.length;
    let line = await next(lines);
    while (line.continued) {
      expect(line.text.length).toBeLessThanOrEqual(CAP);
      pieces++;
      bytes += line.text.length;
      line = await next(lines);
    }
    expect({ pieces, bytes }).toEqual({ pieces: 800, bytes: 800 * CAP });
    expect(line).toEqual({ continued: false, text: "after" });
    expect(await next(lines)).toEqual({ continued: false, text: "last, without a newline" });
    expect((await lines.next()).done).toBe(true);
    await feeding;
    const [code] = await once(child, "close");
    expect(code).toBe(0);
  });

  it("sends the first piece of a long line while the line is still being printed", async () => {
    const { child, lines } = await stamper();
    await write(child, "short\n");
    expect(await next(lines)).toEqual({ continued: false, text: "short" });
    await write(child, "y".repeat(CAP + 10)); // no newline, and the pipe stays open
    expect(await next(lines)).toEqual({ continued: false, text: "y".repeat(CAP) });
    child.stdin.end("\n");
    expect(await next(lines)).toEqual({ continued: true, text: "y".repeat(10) });
    expect((await lines.next()).done).toBe(true);
  });

  it("keeps a line of exactly 64 KiB whole, and never cuts inside a UTF-8 character", async () => {
    const { child, lines } = await stamper();
    child.stdin.end(`${"a".repeat(CAP)}\n${"b".repeat(CAP - 1)}é tail\n`);
    expect(await next(lines)).toEqual({ continued: false, text: "a".repeat(CAP) });
    expect(await next(lines)).toEqual({ continued: false, text: "b".repeat(CAP - 1) });
    expect(await next(lines)).toEqual({ continued: true, text: "é tail" });
    expect((await lines.next()).done).toBe(true);
  });
});
