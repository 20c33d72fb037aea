import { describe, expect, it } from "vitest";
import { DuplicateKeyError, field, goFold, parseImageJson } from "./image-json.js";

describe("parseImageJson: the engine's reading of an archive's JSON", () => {
  it("reads plain JSON as JSON.parse does", () => {
    const text = '{"Config":"c.json","RepoTags":["a:1"],"Layers":["l/layer.tar"],"n":1.5,"b":true,"z":null}';
    expect(parseImageJson(text)).toEqual(JSON.parse(text));
  });

  it.each([
    ['[{"RepoTags":["a:1"],"RepoTags":["victim:latest"]}]', "RepoTags"],
    ['[{"RepoTags":["a:1"],"repotags":["victim:latest"]}]', "repotags"],
    ['[{"Layers":[],"LAYERS":["x"]}]', "LAYERS"],
    // Go folds the long s (U+017F) to s and the Kelvin sign (U+212A) to k.
    ['[{"RepoTags":[],"RepoTag\u017f":["victim"]}]', "RepoTag\u017f"],
    ['{"config":{"User":"1000","user":"0"}}', "user"],
    ['{"\u212Aey":1,"key":2}', "key"],
  ])("refuses a key the engine would read twice: %s", (text, key) => {
    const error = (() => {
      try {
        parseImageJson(text);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(DuplicateKeyError);
    expect((error as DuplicateKeyError).key).toBe(key);
  });

  it("keeps keys of map-valued objects exact: labels may differ only in case, not repeat", () => {
    const value = parseImageJson('{"config":{"Labels":{"Maintainer":"a","maintainer":"b"}}}');
    expect(field(field(value, "config"), "Labels")).toEqual({ Maintainer: "a", maintainer: "b" });
    expect(() => parseImageJson('{"config":{"Labels":{"a":"1","a":"2"}}}')).toThrow(DuplicateKeyError);
    expect(() => parseImageJson('{"annotations":{"x":"1","x":"2"}}')).toThrow(/appears twice/);
  });

  it("keeps a __proto__ key as data, as JSON.parse does", () => {
    const value = parseImageJson('{"__proto__":{"polluted":true}}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("throws a SyntaxError-like error on what is not JSON", () => {
    expect(() => parseImageJson("[not json")).toThrow();
    expect(() => parseImageJson("{'a': 1}")).toThrow();
  });

  it("reads struct fields by Go's folding", () => {
    expect(field({ repotags: ["x"] }, "RepoTags")).toEqual(["x"]);
    expect(field({ Config: "c" }, "config")).toBe("c");
    expect(field([], "x")).toBeUndefined();
    expect(field(null, "x")).toBeUndefined();
    expect(goFold("RepoTag\u017f")).toBe(goFold("repotags"));
    expect(goFold("\u212A")).toBe("k");
  });
});
