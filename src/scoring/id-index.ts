/**
 * The expected ids of a test set, each mapped to its row, built for a million ids joined in random order.
 *
 * A V8 Map keyed by a million freshly parsed strings spends most of a scoring run in cache misses (bucket,
 * entry, key object) and in write barriers for young keys. This index keeps everything in typed arrays:
 * an open-addressing table of [hash, row + 1, start, length] slots and the ids' UTF-16 code units in one
 * Uint16Array, so a lookup touches about two cache lines, and no per-id string is kept alive. Comparison
 * is exact (code unit by code unit) after a 32-bit hash match; hashes only pick the slot.
 */
import { ScoringError } from "./errors.js";

export type IdType = "string" | "integer";

const INTEGER = /^[+-]?\d+$/;

/** Integer ids compare by value: "+007" and "7" are the same id. */
export function canonicalId(id: string, type: IdType): string {
  if (type !== "integer") return id;
  const first = id.charCodeAt(0);
  // Fast path: no sign and no leading zero.
  if (first >= 49 && first <= 57) return id;
  if (!INTEGER.test(id)) return id;
  return BigInt(id).toString();
}

/** FNV-1a over UTF-16 code units (exported for tests that need colliding ids). */
export function hashOf(key: string): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h;
}

const SLOT = 4; // hash, row + 1 (0: empty), start in chars, length

export class IdIndex {
  private table = new Int32Array(SLOT * 1024);
  private bits = 10;
  private chars = new Uint16Array(16 * 1024);
  private used = 0; // code units in chars
  private count = 0;

  constructor(readonly type: IdType = "string") {}

  /** Builds the index; a repeated id (after canonicalisation) is a ScoringError. */
  static from(ids: Iterable<string>, type: IdType = "string"): IdIndex {
    const index = new IdIndex(type);
    for (const id of ids) {
      if (index.add(id) < 0) {
        throw new ScoringError(
          `the expected ids contain ${JSON.stringify(id)} more than once; ids must be unique`,
        );
      }
    }
    return index;
  }

  get size(): number {
    return this.count;
  }

  /** Slot index (in slots) where `key` is, or the empty slot where it would go. */
  private find(key: string, hash: number): number {
    const table = this.table;
    const mask = (1 << this.bits) - 1;
    const chars = this.chars;
    const length = key.length;
    let slot = Math.imul(hash, 0x9e3779b1) >>> (32 - this.bits);
    for (;;) {
      const at = slot * SLOT;
      if (table[at + 1] === 0) return slot;
      if (table[at] === hash && table[at + 3] === length) {
        const start = table[at + 2]!;
        let i = 0;
        while (i < length && chars[start + i] === key.charCodeAt(i)) i++;
        if (i === length) return slot;
      }
      slot = (slot + 1) & mask;
    }
  }

  private grow(): void {
    const old = this.table;
    this.bits++;
    this.table = new Int32Array(SLOT << this.bits);
    const mask = (1 << this.bits) - 1;
    for (let at = 0; at < old.length; at += SLOT) {
      if (old[at + 1] === 0) continue;
      let slot = Math.imul(old[at]!, 0x9e3779b1) >>> (32 - this.bits);
      while (this.table[slot * SLOT + 1] !== 0) slot = (slot + 1) & mask;
      this.table.set(old.subarray(at, at + SLOT), slot * SLOT);
    }
  }

  /** Adds an id and returns its row (0-based, in insertion order), or -1 if it is already there. */
  add(id: string): number {
    const key = this.type === "integer" ? canonicalId(id, "integer") : id;
    if ((this.count + 1) * 2 > 1 << this.bits) this.grow();
    const hash = hashOf(key);
    const slot = this.find(key, hash);
    const at = slot * SLOT;
    if (this.table[at + 1] !== 0) return -1;
    if (this.used + key.length > this.chars.length) {
      const next = new Uint16Array(Math.max(this.chars.length * 2, this.used + key.length));
      next.set(this.chars.subarray(0, this.used));
      this.chars = next;
    }
    const chars = this.chars;
    const start = this.used;
    for (let i = 0; i < key.length; i++) chars[start + i] = key.charCodeAt(i);
    this.used += key.length;
    const row = this.count++;
    this.table[at] = hash;
    this.table[at + 1] = row + 1;
    this.table[at + 2] = start;
    this.table[at + 3] = key.length;
    return row;
  }

  /** Row of an id (canonicalised for integer ids), or undefined. */
  row(id: string): number | undefined {
    const key = this.type === "integer" ? canonicalId(id, "integer") : id;
    const at = this.find(key, hashOf(key)) * SLOT;
    const row = this.table[at + 1]!;
    return row === 0 ? undefined : row - 1;
  }

  /** The ids in row order (materialises strings: for reports and tests, not hot paths). */
  ids(): string[] {
    const out = new Array<string>(this.count);
    const table = this.table;
    for (let at = 0; at < table.length; at += SLOT) {
      const row = table[at + 1]!;
      if (row !== 0) out[row - 1] = this.text(table[at + 2]!, table[at + 3]!);
    }
    return out;
  }

  /** The ids of some rows, in the order given. */
  idsOf(rows: number[]): string[] {
    const wanted = new Map(rows.map((row, i) => [row, i]));
    const out = new Array<string>(rows.length);
    const table = this.table;
    for (let at = 0; at < table.length && wanted.size > 0; at += SLOT) {
      const i = wanted.get(table[at + 1]! - 1);
      if (i === undefined) continue;
      out[i] = this.text(table[at + 2]!, table[at + 3]!);
      wanted.delete(table[at + 1]! - 1);
    }
    return out;
  }

  private text(start: number, length: number): string {
    let out = "";
    for (let from = start; from < start + length; from += 4096) {
      out += String.fromCharCode(...this.chars.subarray(from, Math.min(from + 4096, start + length)));
    }
    return out;
  }
}
