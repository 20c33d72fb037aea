/**
 * Conda's version order (conda.models.version.VersionOrder), so a package diff can tell an upgrade from a
 * downgrade as conda itself would: `1.10 > 1.9`, `2.0.0rc1 < 2.0.0`, `1.1dev1 < 1.1a1 < 1.1 < 1.1.0post1`,
 * epochs (`1!0.4 > 2024.1`), local versions after `+`, case ignored. Plain string or semver ordering gets
 * several of these wrong, and a wrong order hides a downgrade.
 */

/** A part of a component: a number, a string, or `post`, which sorts above everything. */
type Part = number | string | typeof POST;
const POST = Symbol("post");

/** A version, split as conda splits it: epoch, then the main version's components, then the local ones. */
interface Parsed {
  main: Part[][];
  local: Part[][];
}

const VALID = /^[0-9a-z._+!*-]+$/;

/** Splits a version the way conda does; throws, naming the version, when conda would refuse it too. */
function parse(version: string): Parsed {
  const text = version.trim().toLowerCase();
  const refuse = (rule: string) =>
    new Error(
      `"${version}" is not a conda version: ${rule} (conda's versions look like 1.2.3, 2.0rc1, 1!2.0)`,
    );
  if (text === "") throw refuse("it is empty");
  if (!VALID.test(text)) throw refuse("only letters, digits and . _ + ! * - may appear");
  const bang = text.split("!");
  if (bang.length > 2) throw refuse("more than one epoch mark (!)");
  const epoch = bang.length === 2 ? bang[0]! : "0";
  if (!/^\d+$/.test(epoch)) throw refuse("the epoch (before !) must be a number");
  const plus = bang.at(-1)!.split("+");
  if (plus.length > 2) throw refuse("more than one local-version mark (+)");
  const [main = "", local = ""] = plus;
  if (main === "") throw refuse("no version before the local part");
  return {
    main: [[Number(epoch)], ...components(main)],
    local: local === "" ? [] : components(local),
  };
}

/** Components of a dotted version: `-` reads as `_` (unless both appear), `_` as `.`, as in conda. */
function components(text: string): Part[][] {
  const underscored = text.includes("-") && !text.includes("_") ? text.replaceAll("-", "_") : text;
  // A trailing underscore stays a string (openssl's 1.1_ sorts between 1.1dev1 and 1.1a1).
  const trailing = underscored.endsWith("_") ? "_" : "";
  const dotted = underscored.slice(0, underscored.length - trailing.length).replaceAll("_", ".") + trailing;
  return dotted.split(".").map((component) => {
    const runs = component.match(/\d+|[^\d]+/g) ?? [""];
    const parts: Part[] = runs.map((run) =>
      /^\d+$/.test(run) ? Number(run) : run === "post" ? POST : run === "dev" ? "DEV" : run,
    );
    // A component that starts with a string gets a leading 0 (1.1.dev1 == 1.1.0dev1).
    return typeof parts[0] === "number" ? parts : [0, ...parts];
  });
}

/** One part against another: `post` above all, numbers above strings, strings lexically ("DEV" first). */
function compareParts(a: Part, b: Part): number {
  if (a === b) return 0;
  if (a === POST) return 1;
  if (b === POST) return -1;
  if (typeof a === "number" && typeof b === "number") return Math.sign(a - b);
  if (typeof a === "number") return 1;
  if (typeof b === "number") return -1;
  return a < b ? -1 : 1;
}

/** Lists compared element by element, the shorter padded with `fill` (conda pads with 0 and [0]). */
function compareLists<T>(a: T[], b: T[], fill: T, compare: (x: T, y: T) => number): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const order = compare(a[i] ?? fill, b[i] ?? fill);
    if (order !== 0) return order;
  }
  return 0;
}

const compareComponents = (a: Part[][], b: Part[][]) =>
  compareLists(a, b, [0], (x, y) => compareLists(x, y, 0, compareParts));

/** Negative, zero or positive as conda orders version `a` before, equal to, or after `b`. */
export function compareCondaVersions(a: string, b: string): number {
  const [x, y] = [parse(a), parse(b)];
  return compareComponents(x.main, y.main) || compareComponents(x.local, y.local);
}
