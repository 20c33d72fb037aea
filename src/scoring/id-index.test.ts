import { describe, expect, it } from "vitest";
import { ScoringError } from "./errors.js";
import { canonicalId, hashOf, IdIndex } from "./id-index.js";

describe("IdIndex", () => {
  it("maps ids to rows in insertion order and refuses repeats", () => {
    const index = new IdIndex();
    expect(index.add("b")).toBe(0);
    expect(index.add("a")).toBe(1);
    expect(index.add("b")).toBe(-1);
    expect(index.size).toBe(2);
    expect(index.row("a")).toBe(1);
    expect(index.row("c")).toBeUndefined();
    expect(index.row("")).toBeUndefined();
    expect(index.ids()).toEqual(["b", "a"]);
  });

  it("agrees with a Map over many ids while growing, Unicode and long ids included", () => {
    const index = new IdIndex();
    const reference = new Map<string, number>();
    const make = (i: number): string =>
      i % 7 === 0 ? `é漢😀${i}` : i % 997 === 0 ? `x${"long".repeat(2000)}${i}` : `id_${i.toString(36)}`;
    const rows: number[] = [];
    for (let i = 0; i < 50_000; i++) {
      rows.push(index.add(make(i)));
      reference.set(make(i), reference.size);
    }
    expect(rows).toEqual([...reference.values()]);
    const found: (number | undefined)[] = [];
    const expected: (number | undefined)[] = [];
    for (let i = 0; i < 52_000; i += 3) {
      found.push(index.row(make(i)));
      expected.push(reference.get(make(i)));
    }
    expect(found).toEqual(expected);
    expect(expected.filter((row) => row === undefined)).toHaveLength(667);
    expect(index.row("id_")).toBeUndefined();
    expect(index.row(make(997).slice(0, -1))).toBeUndefined();
    expect(index.ids()).toEqual([...reference.keys()]);
    expect(index.idsOf([5, 0, 49_999])).toEqual([make(5), make(0), make(49_999)]);
  });

  it("tells apart ids whose hashes collide", () => {
    const byHash = new Map<number, string>();
    let pair: [string, string] | null = null;
    for (let i = 0; !pair; i++) {
      const id = `k${i}`;
      const other = byHash.get(hashOf(id));
      if (other !== undefined) pair = [other, id];
      byHash.set(hashOf(id), id);
    }
    const [first, second] = pair;
    expect(hashOf(first)).toBe(hashOf(second));
    const index = IdIndex.from([first]);
    expect(index.row(second)).toBeUndefined();
    expect(index.add(second)).toBe(1);
    expect(index.row(first)).toBe(0);
    expect(index.row(second)).toBe(1);
  });

  it("compares integer ids by value", () => {
    const index = IdIndex.from(["7", "0012", "-3"], "integer");
    expect(index.row("+7")).toBe(0);
    expect(index.row("007")).toBe(0);
    expect(index.row("12")).toBe(1);
    expect(index.row("-03")).toBe(2);
    expect(index.row("8")).toBeUndefined();
    expect(() => IdIndex.from(["7", "07"], "integer")).toThrow(ScoringError);
    expect(() => IdIndex.from(["a", "a"])).toThrow(/contain "a" more than once/);
    expect(canonicalId("007", "string")).toBe("007");
    expect(canonicalId("12345678901234567890123", "integer")).toBe("12345678901234567890123");
    expect(canonicalId("-0", "integer")).toBe("0");
  });
});
