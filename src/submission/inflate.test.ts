import { randomBytes } from "node:crypto";
import { deflateRawSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { RawInflater } from "./inflate.js";

/** Inflates all of `input` through an output buffer of `outSize`, feeding `inChunk` bytes at a time. */
function inflateAll(inflater: RawInflater, input: Buffer, inChunk: number, outSize: number): Buffer {
  const output = Buffer.alloc(outSize);
  const pieces: Buffer[] = [];
  let fed = 0;
  let inOffset = 0;
  let inLength = 0;
  for (;;) {
    if (inLength === 0 && fed < input.length) {
      inOffset = fed;
      inLength = Math.min(inChunk, input.length - fed);
      fed += inLength;
    }
    const { consumed, produced } = inflater.write(input, inOffset, inLength, output);
    inOffset += consumed;
    inLength -= consumed;
    pieces.push(Buffer.from(output.subarray(0, produced)));
    if (produced === output.length) continue;
    if (inLength > 0 || fed >= input.length) break;
  }
  return Buffer.concat(pieces);
}

describe("RawInflater", () => {
  const inflater = RawInflater.create();

  it("is available on this Node", () => {
    expect(inflater).toBeDefined();
  });

  it("inflates through small recycled buffers, across streams", () => {
    const data = Buffer.concat([randomBytes(50_000), Buffer.alloc(200_000, 7), randomBytes(10_000)]);
    const deflated = deflateRawSync(data);
    for (const [inChunk, outSize] of [
      [deflated.length, 1 << 20],
      [1000, 4096],
      [7, 13],
    ] as const) {
      inflater!.reset();
      expect(inflateAll(inflater!, deflated, inChunk, outSize).equals(data)).toBe(true);
    }
  });

  it("stops at the end of the deflate stream, leaving trailing bytes", () => {
    inflater!.reset();
    const deflated = Buffer.concat([deflateRawSync(Buffer.from("hello")), Buffer.from("trailing junk")]);
    const output = Buffer.alloc(100);
    const step = inflater!.write(deflated, 0, deflated.length, output);
    expect(output.subarray(0, step.produced).toString()).toBe("hello");
    expect(step.consumed).toBeLessThan(deflated.length);
    expect(inflater!.write(deflated, step.consumed, deflated.length - step.consumed, output)).toEqual({
      consumed: 0,
      produced: 0,
    });
  });

  it("throws zlib's error on corrupt data, and works again after a reset", () => {
    inflater!.reset();
    const garbage = Buffer.from([0xff, 0xff, 0xff, 0xff]);
    expect(() => inflater!.write(garbage, 0, garbage.length, Buffer.alloc(10))).toThrow(
      expect.objectContaining({ code: "Z_DATA_ERROR" }),
    );
    inflater!.reset();
    const deflated = deflateRawSync(Buffer.from("again"));
    const output = Buffer.alloc(10);
    const { produced } = inflater!.write(deflated, 0, deflated.length, output);
    expect(output.subarray(0, produced).toString()).toBe("again");
  });
});
