/**
 * Leaderboard benchmark: 10k entries from ~1k participants in a temporary SQLite store; times reading +
 * ranking + rendering Markdown, JSON and HTML (median of several reps) against a baseline measured in the
 * same run: one plain `SELECT * FROM entries` over the same rows. Target: < 1 s for the whole refresh.
 *
 *   npx tsx bench/leaderboard.ts
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import type { LeaderboardEntry } from "../src/leaderboard/entry.js";
import { rankEntries } from "../src/leaderboard/ranking.js";
import { renderHtml } from "../src/leaderboard/render-html.js";
import { renderJson } from "../src/leaderboard/render-json.js";
import { renderMarkdown } from "../src/leaderboard/render-markdown.js";
import { parseRules } from "../src/leaderboard/rules.js";
import { SqliteLeaderboardStore } from "../src/leaderboard/sqlite-store.js";
import type { RunStatus } from "../src/status/index.js";

const ENTRIES = 10_000;
const PARTICIPANTS = 1_000;
const REPS = 7;
const TARGET_MS = 1_000;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function time(fn: () => unknown): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

function makeEntries(): LeaderboardEntry[] {
  // Deterministic pseudo-random data: mostly successes, some failures and infrastructure errors.
  let seed = 42;
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  const failures: RunStatus[] = ["failed", "timed_out", "output_invalid", "infrastructure_error"];
  const start = Date.UTC(2025, 0, 1);
  return Array.from({ length: ENTRIES }, (_, i) => {
    const ok = random() < 0.85;
    return {
      submissionId: `sub-${i.toString().padStart(6, "0")}`,
      participant: `participant-${i % PARTICIPANTS}`,
      submittedAt: new Date(start + Math.floor(random() * 60 * 86_400_000)).toISOString(),
      status: ok ? "succeeded" : failures[i % failures.length]!,
      publicScore: ok ? Math.round(random() * 1e6) / 1e6 : null,
      privateScore: null,
      sealedPrivateScore: ok ? `pscore.v1.${"x".repeat(100)}` : null, // realistic size; not opened here
      durationMs: Math.floor(random() * 600_000),
      imageDigest: `sha256:${"a".repeat(64)}`,
      zipSha256: "b".repeat(64),
    };
  });
}

export async function benchLeaderboard(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "proctor-bench-leaderboard-"));
  try {
    const path = join(dir, "leaderboard.db");
    const store = new SqliteLeaderboardStore(path);
    const entries = makeEntries();
    const recordMs = time(() => store.recordMany(entries));
    const rules = parseRules({ direction: "higher", precision: 4, dailyLimit: 5 });
    const options = { competition: "Benchmark Challenge", generatedAt: new Date() };

    const raw = new Database(path, { readonly: true });
    const selectAll = raw.prepare("SELECT * FROM entries");
    const baseline: number[] = [];
    const list: number[] = [];
    const rank: number[] = [];
    const markdown: number[] = [];
    const json: number[] = [];
    const html: number[] = [];
    const total: number[] = [];
    let sizes = { rows: 0, markdown: 0, json: 0, html: 0 };
    for (let rep = 0; rep < REPS; rep += 1) {
      baseline.push(time(() => selectAll.all()));
      let listed: LeaderboardEntry[] = [];
      const start = performance.now();
      list.push(await timeAsync(async () => (listed = await store.list())));
      let standings = rankEntries([], rules);
      rank.push(time(() => (standings = rankEntries(listed, rules))));
      let md = "";
      let js = "";
      let page = "";
      markdown.push(time(() => (md = renderMarkdown(standings, options))));
      json.push(time(() => (js = renderJson(standings, options))));
      html.push(time(() => (page = renderHtml(standings, options))));
      total.push(performance.now() - start);
      sizes = { rows: standings.rows.length, markdown: md.length, json: js.length, html: page.length };
    }
    raw.close();
    await store.close();

    const b = median(baseline);
    const t = median(total);
    const rankRender = median(rank) + median(markdown) + median(json) + median(html);
    const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
    const line = (label: string, value: number, note = "") =>
      console.log(`  ${label.padEnd(44)} ${value.toFixed(1).padStart(7)} ms${note ? `  ${note}` : ""}`);
    console.log(`leaderboard: ${ENTRIES} entries, ${sizes.rows} participants (median of ${REPS} reps)`);
    line("record all (one transaction; not in target)", recordMs);
    line("baseline: SELECT * FROM entries", b);
    line("store.list()", median(list));
    line("rank", median(rank));
    line(`render Markdown (${kib(sizes.markdown)})`, median(markdown));
    line(`render JSON (${kib(sizes.json)})`, median(json));
    line(`render HTML (${kib(sizes.html)})`, median(html));
    line("rank + render all three", rankRender, `${(rankRender / b).toFixed(2)}x baseline`);
    line(
      "list + rank + render (full refresh)",
      t,
      `${(t / b).toFixed(2)}x baseline; target < ${TARGET_MS} ms: ${t < TARGET_MS ? "met" : "MISSED"}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchLeaderboard();
}
