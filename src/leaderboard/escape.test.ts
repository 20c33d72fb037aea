import { describe, expect, it } from "vitest";
import { escapeHtml, escapeMarkdown } from "./escape.js";

describe("escapeHtml", () => {
  it("turns every character that could open markup or leave an attribute into an entity", () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe(
      "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;",
    );
  });
});

describe("escapeMarkdown", () => {
  it("escapes markdown and HTML in participant names and folds line breaks", () => {
    expect(escapeMarkdown("a\nb|c<d>&`e`_f_")).toBe("a b\\|c&lt;d&gt;&amp;\\`e\\`\\_f\\_");
  });

  it("escapes an entity-looking name so it shows as typed", () => {
    expect(escapeMarkdown("&#35; x")).toBe("&amp;\\#35; x");
  });
});
