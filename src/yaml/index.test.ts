import { describe, expect, it } from "vitest";
import { z } from "zod";
import { parseYaml, YamlConfigError, type YamlIssue } from "./index.js";

function issuesOf(run: () => unknown): YamlIssue[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(YamlConfigError);
    return (error as YamlConfigError).issues;
  }
  throw new Error("expected a YamlConfigError");
}

const schema = z.object({ items: z.array(z.object({ name: z.string() }).strict()) }).strict();

describe("parseYaml", () => {
  it("locates a semantic check's issues at their key path, after the schema holds", () => {
    const text = "items:\n  - name: a\n  - name: b\n  - name: a\n";
    const check = (value: z.output<typeof schema>) =>
      value.items.flatMap((item, i) =>
        value.items.findIndex((other) => other.name === item.name) < i
          ? [{ path: ["items", i, "name"], message: "is taken", rule: "duplicate" }]
          : [],
      );
    expect(issuesOf(() => parseYaml(text, "f.yml", schema, { check }))).toEqual([
      { file: "f.yml", line: 4, column: 5, key: "items[2].name", message: "is taken", rule: "duplicate" },
    ]);
    expect(parseYaml("items: []\n", "f.yml", schema, { check }).items).toEqual([]);
    // The check is not reached while the schema fails.
    expect(issuesOf(() => parseYaml("items: 3\n", "f.yml", schema, { check }))[0]).toMatchObject({
      key: "items",
      line: 1,
      message: "must be a list, got number 3",
    });
  });

  it("reads every scalar as text in failsafe mode", () => {
    const text = z.object({ v: z.array(z.string()) });
    expect(parseYaml("v: [1.10, true, null]\n", "f.yml", text, { scalars: "failsafe" }).v).toEqual([
      "1.10",
      "true",
      "null",
    ]);
    expect(issuesOf(() => parseYaml("v: [1.10]\n", "f.yml", text))[0]!.message).toBe(
      "must be text, got number 1.1",
    );
  });

  it("names syntax errors with their line and rule", () => {
    const [issue] = issuesOf(() => parseYaml("a: 1\na: 2\n", "f.yml", z.unknown()));
    expect(issue).toMatchObject({ file: "f.yml", line: 2, key: "", rule: "yaml_syntax" });
    expect(issue!.message).toMatch(/^is not valid YAML: /);
  });
});
