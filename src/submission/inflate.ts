/**
 * Raw-deflate decompression into buffers the caller owns, synchronously.
 *
 * Node's public zlib API allocates a fresh output buffer for every chunk (and a whole stream object per
 * one-shot call): inflating a 200 MB submission leaves 200 MB of garbage behind, which V8 collects only
 * after some 40 MB has piled up. Here one engine's handle writes into recycled buffers, the way Node's own
 * zlibBufferSync drives it, so extraction allocates nothing per entry and stays within its memory target.
 *
 * That handle (`_handle.writeSync` and `_writeState`) is internal to Node, unchanged since Node 10 and
 * relied on by minizlib (npm, node-tar). If a Node version lacks it, `RawInflater.create` returns undefined
 * and extraction falls back to yauzl's (public-API) read streams.
 */
import { type InflateRaw, constants, createInflateRaw } from "node:zlib";

interface ZlibHandle {
  writeSync(
    flush: number,
    input: Buffer,
    inOffset: number,
    inLength: number,
    output: Buffer,
    outOffset: number,
    outLength: number,
  ): void;
}

interface ZlibInternals {
  _handle?: ZlibHandle | null;
  /** [output bytes left, input bytes left] after each write. */
  _writeState?: Uint32Array;
}

export interface InflateStep {
  /** Input bytes zlib took. */
  consumed: number;
  /** Output bytes it wrote. */
  produced: number;
}

export class RawInflater {
  private engine: InflateRaw & ZlibInternals;

  private constructor() {
    this.engine = RawInflater.newEngine();
  }

  private static newEngine(): InflateRaw & ZlibInternals {
    const engine = createInflateRaw() as InflateRaw & ZlibInternals;
    // Errors surface through `errored`, checked after each write; the event would only repeat them.
    engine.on("error", () => undefined);
    return engine;
  }

  /** An inflater, or undefined where this Node's zlib lacks the handle it drives. */
  static create(): RawInflater | undefined {
    const probe = createInflateRaw() as InflateRaw & ZlibInternals;
    const usable = typeof probe._handle?.writeSync === "function" && probe._writeState instanceof Uint32Array;
    probe.close();
    return usable ? new RawInflater() : undefined;
  }

  /** Starts a new raw-deflate stream (after an error too: a failed engine is replaced). */
  reset(): void {
    if (this.engine.destroyed) this.engine = RawInflater.newEngine();
    else this.engine.reset();
  }

  /**
   * Inflates from input[inOffset, inOffset + inLength) into output[0, output.length). Throws zlib's error
   * (code Z_DATA_ERROR...) on corrupt data. `consumed === 0 && produced === 0` means the deflate stream
   * has ended (or needs input it was not given).
   */
  write(input: Buffer, inOffset: number, inLength: number, output: Buffer): InflateStep {
    const engine = this.engine;
    engine._handle!.writeSync(constants.Z_NO_FLUSH, input, inOffset, inLength, output, 0, output.length);
    if (engine.errored) throw engine.errored;
    const state = engine._writeState!;
    return { consumed: inLength - state[1]!, produced: output.length - state[0]! };
  }

  close(): void {
    this.engine.close();
  }
}
