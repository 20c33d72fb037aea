import { describe, expect, it } from "vitest";
import { CappedCapture } from "./capture.js";

describe("CappedCapture", () => {
  it("keeps everything when within budget", () => {
    const c = new CappedCapture(10, 10);
    c.append(Buffer.from("hello\nworld\n"));
    expect(c.text()).toBe("hello\nworld\n");
    expect(c.truncated).toBe(false);
    expect(c.lineCount).toBe(2);
  });

  it("keeps head and tail and marks the cut with the number of bytes dropped", () => {
    const c = new CappedCapture(4, 4);
    for (const piece of ["abcd", "efgh", "ijkl", "mn", "op"]) c.append(Buffer.from(piece));
    expect(c.totalBytes).toBe(16);
    expect(c.truncated).toBe(true);
    expect(c.text()).toBe("abcd\n[... 8 bytes cut by proctor ...]\nmnop");
  });

  it("wraps the tail ring correctly across many small writes", () => {
    const c = new CappedCapture(0, 5);
    const all = "0123456789abcdefghij";
    for (const ch of all) c.append(Buffer.from(ch));
    expect(c.text().endsWith("fghij")).toBe(true);
  });

  it("takes a chunk larger than the tail whole", () => {
    const c = new CappedCapture(2, 3);
    c.append(Buffer.from("ab"));
    c.append(Buffer.from("0123456789"));
    expect(c.text()).toBe("ab\n[... 7 bytes cut by proctor ...]\n789");
  });

  it("counts lines of any size without keeping them, and a last line without newline", () => {
    const c = new CappedCapture(8, 8);
    const line = Buffer.from("x".repeat(99) + "\n");
    for (let i = 0; i < 10_000; i++) c.append(line);
    c.append(Buffer.from("last"));
    expect(c.lineCount).toBe(10_001);
    expect(c.totalBytes).toBe(1_000_004);
  });

  it("works as a writable stream", async () => {
    const c = new CappedCapture(100, 100);
    await new Promise<void>((resolve) => c.end(Buffer.from("streamed"), resolve));
    expect(c.text()).toBe("streamed");
  });
});
