import { describe, expect, it } from "vitest";
import { validateEntry } from "./entry.js";
import { rankEntries } from "./ranking.js";
import { renderHtml } from "./render-html.js";
import { LEADERBOARD_JSON_FORMAT, renderJson } from "./render-json.js";
import { renderMarkdown } from "./render-markdown.js";
import { renderStandings } from "./render.js";
import { parseRules } from "./rules.js";
import { makeEntry, makeFailed } from "./test-support/entries.js";

const rules = parseRules({ direction: "higher", precision: 3 });
const generatedAt = new Date("2025-03-10T08:00:00Z");
const evil = "<img src=x onerror=alert(1)>";
/** The runtime image digest the test entries ran with (test-support/entries.ts). */
const DIGEST = "sha256:" + "ab".repeat(32);
const entries = [
  makeEntry({
    submissionId: "a1",
    participant: "alice",
    publicScore: 0.91234,
    privateScore: 0.8,
    submittedAt: "2025-03-01T10:00:00Z",
  }),
  makeEntry({
    submissionId: "a2",
    participant: "alice",
    publicScore: 0.5,
    privateScore: 0.1,
    submittedAt: "2025-03-02T10:00:00Z",
  }),
  makeEntry({
    submissionId: "b1",
    participant: "bob | *bold* [x](http://e)",
    publicScore: 0.85,
    privateScore: 0.95,
    submittedAt: "2025-03-01T11:00:00Z",
  }),
  makeFailed({ submissionId: "e1", participant: evil, submittedAt: "2025-03-03T09:30:00Z" }),
];
const publicBoard = rankEntries(entries, rules);
const privateBoard = rankEntries(entries, rules, { mode: "private" });

describe("renderMarkdown", () => {
  it("renders a table of rank, participant, score, entries and last submission", () => {
    const md = renderMarkdown(publicBoard, { competition: "Flood Forecast", generatedAt });
    expect(md.split("\n")).toEqual([
      "## Flood Forecast — public leaderboard",
      "",
      "| Rank | Participant | Best score | Entries | Last submission |",
      "| ---: | :--- | ---: | ---: | :--- |",
      "| 1 | alice | 0.912 | 2 | 2025-03-02 10:00 UTC |",
      "| 2 | bob \\| \\*bold\\* \\[x\\](http://e) | 0.850 | 1 | 2025-03-01 11:00 UTC |",
      "| — | &lt;img src=x onerror=alert(1)&gt; | no score | 1 | 2025-03-03 09:30 UTC |",
      "",
      expect.stringMatching(
        /^_Ranked by public score \(higher is better.*Generated 2025-03-10 08:00 UTC\._$/,
      ),
      "",
    ]);
  });
});

describe("renderJson", () => {
  it("names the phase whose entries it ranks", () => {
    const json = JSON.parse(renderJson(publicBoard, { competition: "C", generatedAt, phase: "final-round" }));
    expect(json.phase).toBe("final-round");
  });

  it("has the documented, stable shape without private scores in public mode", () => {
    const json = JSON.parse(renderJson(publicBoard, { competition: "Flood Forecast", generatedAt }));
    expect(json).toEqual({
      format: LEADERBOARD_JSON_FORMAT,
      competition: "Flood Forecast",
      generatedAt: "2025-03-10T08:00:00.000Z",
      mode: "public",
      ranking: {
        direction: "higher",
        precision: 3,
        selection: "best",
        tieBreak: "earlier_submission",
        rankNumbers: "competition",
      },
      phase: null,
      rows: [
        {
          rank: 1,
          participant: "alice",
          // Rounded to the shown precision in public mode: more digits would help probe the test set.
          score: 0.912,
          scoreText: "0.912",
          publicScore: 0.912,
          submissionId: "a1",
          submittedAt: "2025-03-01T10:00:00.000Z",
          entries: 2,
          lastSubmittedAt: "2025-03-02T10:00:00.000Z",
          imageDigest: DIGEST,
          imageRecord: null,
          modelsDigest: null,
          modelsRecord: null,
          submissionSha256: "cd".repeat(32),
          scorerDigest: null,
        },
        {
          rank: 2,
          participant: "bob | *bold* [x](http://e)",
          score: 0.85,
          scoreText: "0.850",
          publicScore: 0.85,
          submissionId: "b1",
          submittedAt: "2025-03-01T11:00:00.000Z",
          entries: 1,
          lastSubmittedAt: "2025-03-01T11:00:00.000Z",
          imageDigest: DIGEST,
          imageRecord: null,
          modelsDigest: null,
          modelsRecord: null,
          submissionSha256: "cd".repeat(32),
          scorerDigest: null,
        },
        {
          rank: null,
          participant: evil,
          score: null,
          scoreText: null,
          publicScore: null,
          submissionId: null,
          submittedAt: null,
          entries: 1,
          lastSubmittedAt: "2025-03-03T09:30:00.000Z",
          imageDigest: null,
          imageRecord: null,
          modelsDigest: null,
          modelsRecord: null,
          submissionSha256: null,
          scorerDigest: null,
        },
      ],
    });
    const text = renderJson(publicBoard, { competition: "x", generatedAt });
    expect(text).not.toMatch(/privateScore|0\.95|0\.8\b/);
    expect(Object.keys(json.rows[0])).toEqual([
      "rank",
      "participant",
      "score",
      "scoreText",
      "publicScore",
      "submissionId",
      "submittedAt",
      "entries",
      "lastSubmittedAt",
      "imageDigest",
      "imageRecord",
      "modelsDigest",
      "modelsRecord",
      "submissionSha256",
      "scorerDigest",
    ]);
  });

  it("names what scored each row (the metric's or scorer's digest) and the submission, never the ground truth", () => {
    const scorer = "5c".repeat(32);
    const board = rankEntries(
      [makeEntry({ participant: "ada", publicScore: 0.5, scorerDigest: scorer })],
      rules,
    );
    const json = JSON.parse(renderJson(board, { competition: "x", generatedAt }));
    expect(json.rows[0]).toMatchObject({ scorerDigest: scorer, submissionSha256: "cd".repeat(32) });
    expect(JSON.stringify(json)).not.toMatch(/ground/i);
    expect(() => validateEntry(makeEntry({ submissionId: "s", scorerDigest: "f1_macro" }))).toThrow(
      /scorerDigest: must be 64 lowercase hex digits/,
    );
  });

  it("publishes private standings only when asked", () => {
    expect(() => renderJson(privateBoard, { competition: "x" })).toThrow(/includePrivate: true/);
    expect(() => renderMarkdown(privateBoard, { competition: "x" })).toThrow(/includePrivate: true/);
    expect(() => renderHtml(privateBoard, { competition: "x" })).toThrow(/includePrivate: true/);
    const json = JSON.parse(
      renderJson(privateBoard, { competition: "x", generatedAt, includePrivate: true }),
    );
    expect(json.mode).toBe("private");
    expect(
      json.rows.map((r: { participant: string; score: number; privateScore: number }) => [
        r.participant,
        r.score,
        r.privateScore,
      ]),
    ).toEqual([
      ["bob | *bold* [x](http://e)", 0.95, 0.95],
      ["alice", 0.8, 0.8],
      [evil, null, null],
    ]);
  });
});

describe("renderHtml", () => {
  const html = renderHtml(publicBoard, { competition: "Flood <Forecast>", generatedAt });

  it("escapes every participant-provided string and loads nothing external", () => {
    expect(html).not.toContain(evil);
    expect(html).toContain("&lt;img src=x onerror=alert(1)&gt;");
    expect(html).toContain("<title>Flood &lt;Forecast&gt; — public leaderboard</title>");
    expect(html).not.toMatch(/<(img|link|iframe|object|embed|script\s+src)\b|\bhref=|url\(|@import/i);
    expect(html).toMatch(/Content-Security-Policy" content="default-src 'none'; style-src 'sha256-/);
  });

  it("is an accessible table", () => {
    expect(html).toMatch(/<table id="leaderboard">\n<caption>/);
    expect(html.match(/<th scope="col"/g)).toHaveLength(6);
    expect(html.match(/<th [^>]*aria-sort="ascending"/g)).toHaveLength(1);
    expect(html).toContain('<time datetime="2025-03-10T08:00:00.000Z">2025-03-10 08:00 UTC</time>');
  });
});

describe("the runtime image of each row (issue 21)", () => {
  const record = "https://github.com/org/comp/blob/main/runtime/published.json";

  it("links each digest to the record of published images, in JSON and HTML", () => {
    const json = JSON.parse(
      renderJson(publicBoard, { competition: "x", generatedAt, imageRecordUrl: record }),
    );
    expect(
      json.rows.map((r: { imageDigest: string | null; imageRecord: string | null }) => [
        r.imageDigest,
        r.imageRecord,
      ]),
    ).toEqual([
      [DIGEST, record],
      [DIGEST, record],
      [null, null],
    ]);
    const html = renderHtml(publicBoard, { competition: "x", generatedAt, imageRecordUrl: record });
    expect(html).toContain(
      `<a href="${record}" rel="noreferrer" title="the record of this image in runtime/published.json"><code title="${DIGEST}">sha256:abababababab…</code></a>`,
    );
    expect(html.match(/\bhref=/g)).toHaveLength(2);
  });

  it("shows the digest without a link when the record's URL is unknown or not https", () => {
    for (const imageRecordUrl of [undefined, "javascript:alert(1)", 'https://x" onmouseover="alert(1)']) {
      const html = renderHtml(publicBoard, {
        competition: "x",
        generatedAt,
        ...(imageRecordUrl && { imageRecordUrl }),
      });
      expect(html).not.toMatch(/\bhref=|javascript:|onmouseover/);
      expect(html).toContain(`<code title="${DIGEST}">sha256:abababababab…</code>`);
    }
  });

  it("escapes a digest that is not one", () => {
    const odd = rankEntries(
      [makeEntry({ submissionId: "z", participant: "z", imageDigest: '"><script>alert(1)</script>' })],
      rules,
    );
    const html = renderHtml(odd, { competition: "x", generatedAt });
    expect(html).not.toContain("<script>alert");
    expect(html).toContain("&quot;&gt;&lt;script&gt;");
  });
});

describe("the models of each row (issue 21)", () => {
  const MODELS = "sha256:" + "0f".repeat(32);
  const records = {
    imageRecordUrl: "https://github.com/org/comp/blob/HEAD/runtime/published.json",
    modelsRecordUrl: "https://github.com/org/comp/blob/HEAD/runtime/published.json",
  };
  // alice's best ran with models; bob's entry is from before they were recorded (none).
  const withModels = rankEntries(
    [
      makeEntry({ submissionId: "m1", participant: "alice", publicScore: 0.9, modelsDigest: MODELS }),
      makeEntry({ submissionId: "m2", participant: "bob", publicScore: 0.8 }),
    ],
    rules,
  );

  it("are a plain field of each JSON row beside the image's, with where they are listed; null where none", () => {
    const json = JSON.parse(renderJson(withModels, { competition: "x", generatedAt, ...records }));
    expect(
      json.rows.map((r: Record<string, unknown>) => [r["participant"], r["modelsDigest"], r["modelsRecord"]]),
    ).toEqual([
      ["alice", MODELS, records.modelsRecordUrl],
      ["bob", null, null],
    ]);
    const unlinked = JSON.parse(renderJson(withModels, { competition: "x", generatedAt }));
    expect(unlinked.rows[0]).toMatchObject({ modelsDigest: MODELS, modelsRecord: null });
  });

  it("link the shortened digest to its record (runtime/published.json) in the HTML (the full one in its title), as the image links to its record", () => {
    const html = renderHtml(withModels, { competition: "x", generatedAt, ...records });
    expect(html).toContain('<th scope="col">Runtime image</th><th scope="col">Models</th>');
    expect(html).toContain(
      `<a href="${records.modelsRecordUrl}" rel="noreferrer" title="the record of published images (runtime/published.json), which names this models image"><code title="${MODELS}">sha256:0f0f0f0f0f0f…</code></a>`,
    );
    expect(html).toContain(
      `<a href="${records.imageRecordUrl}" rel="noreferrer" title="the record of this image in runtime/published.json"><code title="${DIGEST}">sha256:abababababab…</code></a>`,
    );
    // bob's row: the image linked, no models.
    expect(html).toMatch(
      /<th scope="row">bob<\/th>.*<td class="image"><a [^>]+><code[^>]+>[^<]+<\/code><\/a><\/td><td class="image">—<\/td><\/tr>/,
    );
    for (const modelsRecordUrl of ["javascript:alert(1)", 'https://x" onmouseover="alert(1)']) {
      const hostile = renderHtml(withModels, { competition: "x", generatedAt, modelsRecordUrl });
      expect(hostile).not.toMatch(/\bhref=|javascript:|onmouseover/);
      expect(hostile).toContain(`<code title="${MODELS}">sha256:0f0f0f0f0f0f…</code>`);
    }
  });

  it("add no column where no row has models (a competition without them keeps its page)", () => {
    const html = renderHtml(publicBoard, { competition: "x", generatedAt, ...records });
    expect(html).not.toContain("Models</th>");
    expect(html).not.toContain("runtime/models.yml");
  });

  it("are refused on an entry unless sha256:<64 hex>, naming the field and the rule", () => {
    for (const hostile of ['"><script>alert(1)</script>', "0f".repeat(32), `sha256:${"0F".repeat(32)}`]) {
      expect(() => validateEntry(makeEntry({ submissionId: "h", modelsDigest: hostile })), hostile).toThrow(
        /leaderboard entry "h" is invalid: modelsDigest: must be sha256: and 64 lowercase hex digits/,
      );
    }
  });
});

describe("renderStandings", () => {
  it("ranks once and renders the chosen format; private mode publishes the revealed ranking", () => {
    const options = { competition: "Flood Forecast", generatedAt };
    expect(renderStandings(entries, rules, { ...options, format: "markdown" })).toBe(
      renderMarkdown(publicBoard, options),
    );
    expect(renderStandings(entries, rules, { ...options, format: "html" })).toBe(
      renderHtml(publicBoard, options),
    );
    expect(renderStandings(entries, rules, { ...options, format: "json", mode: "private" })).toBe(
      renderJson(privateBoard, { ...options, includePrivate: true }),
    );
  });
});
