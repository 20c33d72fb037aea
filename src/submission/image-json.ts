/**
 * The JSON of an image archive (manifest.json, index.json, manifests, the config) read as the engine reads
 * it. Go's encoding/json fills a struct's field from a key of any case (with Unicode folding: "ſ" is "s",
 * "K" is "k"), and where two keys match the same field, the later wins; JSON.parse keeps exact keys and the
 * last duplicate. Left alone, `{"User": "1000", "user": "0"}` would say one user to us and another to the
 * engine. So: a key twice in one object (exactly, or, where the engine decodes the object into a struct, by
 * Go's folding) is refused, and fields are read by their folded names (`field`).
 */
import { parse, type AnyNode } from "@humanwhocodes/momoa";

/** A key the engine would read differently from us: where, and which. */
export class DuplicateKeyError extends Error {
  override name = "DuplicateKeyError";
  constructor(
    readonly where: string,
    readonly key: string,
  ) {
    super(`the key ${JSON.stringify(key)} appears twice${where === "" ? "" : ` in ${where}`}`);
  }
}

/**
 * Objects the engine decodes into maps, not structs: their keys are data, matched exactly (labels,
 * annotations, volumes and ports may differ only in case).
 */
const MAP_VALUED = new Set(["labels", "annotations", "volumes", "exposedports"]);

/** Go's case folding of a key, one character at a time (a character whose folding is not one character stays). */
export function goFold(key: string): string {
  return Array.from(key, (c) => {
    const upper = c.toUpperCase();
    const lower = (upper.length === 1 ? upper : c).toLowerCase();
    return lower.length === 1 ? lower : c;
  }).join("");
}

/**
 * Parses `text` as the engine would, refusing duplicate keys (DuplicateKeyError). Throws SyntaxError when it
 * is not JSON. The value is plain data, with every key as written (read struct fields with `field`).
 */
export function parseImageJson(text: string): unknown {
  const document = parse(text, { mode: "json", ranges: false, tokens: false });
  return toValue(document.body, false, "");
}

function toValue(node: AnyNode, isMap: boolean, where: string): unknown {
  switch (node.type) {
    case "Object": {
      const out: Record<string, unknown> = {};
      const seen = new Set<string>();
      for (const member of node.members) {
        const key = member.name.type === "String" ? member.name.value : member.name.name;
        const matched = isMap ? key : goFold(key);
        if (seen.has(matched)) throw new DuplicateKeyError(where, key);
        seen.add(matched);
        const inner = where === "" ? key : `${where}.${key}`;
        // defineProperty: a key "__proto__" is data, as JSON.parse keeps it.
        Object.defineProperty(out, key, {
          value: toValue(member.value, !isMap && MAP_VALUED.has(goFold(key)), inner),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    case "Array":
      return node.elements.map((element, i) => toValue(element.value, false, `${where}[${i}]`));
    case "String":
    case "Number":
    case "Boolean":
      return node.value;
    case "Null":
      return null;
    default:
      throw new SyntaxError(`unexpected ${node.type} in JSON`);
  }
}

/** A struct field of a parsed object as Go reads it: the one key that folds to `name` (at most one: see above). */
export function field(object: unknown, name: string): unknown {
  if (object === null || typeof object !== "object" || Array.isArray(object)) return undefined;
  const wanted = goFold(name);
  for (const key of Object.keys(object)) {
    if (goFold(key) === wanted) return (object as Record<string, unknown>)[key];
  }
  return undefined;
}
