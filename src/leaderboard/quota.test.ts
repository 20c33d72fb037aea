import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { RUN_STATUSES } from "../status/index.js";
import { checkQuota, countsTowardLimits, nextUtcMidnight, startOfUtcDay } from "./quota.js";
import { parseRules } from "./rules.js";
import { SqliteLeaderboardStore } from "./sqlite-store.js";
import { MemoryLeaderboardStore } from "./store.js";
import { makeEntry, makeFailed, QUOTA_CASES } from "./test-support/entries.js";

async function storeWith(...entries: ReturnType<typeof makeEntry>[]) {
  const store = new MemoryLeaderboardStore();
  for (const e of entries) await store.record(e);
  return store;
}

describe("checkQuota", () => {
  it("allows until the daily limit is used, then names the limit and the UTC-midnight reset", async () => {
    const rules = parseRules({ direction: "higher", dailyLimit: 2 });
    const store = await storeWith(
      makeEntry({ participant: "ann", submittedAt: "2025-03-01T23:30:00Z" }), // yesterday (UTC)
      makeEntry({ participant: "ann", submittedAt: "2025-03-02T00:00:00Z" }), // exactly at midnight: today
    );
    const now = new Date("2025-03-02T10:00:00Z");
    const first = await checkQuota(store, "ann", rules, now);
    expect(first).toEqual({
      allowed: true,
      usedToday: 1,
      dailyLimit: 2,
      remainingToday: 1,
      usedTotal: 2,
      totalLimit: null,
      remainingTotal: null,
      resetsAt: "2025-03-03T00:00:00.000Z",
    });

    await store.record(makeEntry({ participant: "ann", submittedAt: "2025-03-02T09:00:00Z" }));
    const refused = await checkQuota(store, "ann", rules, now);
    expect(refused).toMatchObject({ allowed: false, usedToday: 2, remainingToday: 0 });
    expect(refused.reason).toMatch(/daily submission limit reached: ann has used 2 of 2 submissions/);
    expect(refused.reason).toMatch(/resets at 2025-03-03T00:00:00.000Z \(midnight UTC\)/);

    // One millisecond before midnight: still refused; at midnight the count starts over.
    expect((await checkQuota(store, "ann", rules, new Date("2025-03-02T23:59:59.999Z"))).allowed).toBe(false);
    const nextDay = await checkQuota(store, "ann", rules, new Date("2025-03-03T00:00:00Z"));
    expect(nextDay).toMatchObject({ allowed: true, usedToday: 0, remainingToday: 2, usedTotal: 3 });
  });

  it("refuses once the total limit is used, and says it does not reset", async () => {
    const rules = parseRules({ direction: "higher", dailyLimit: 5, totalLimit: 3 });
    const store = await storeWith(
      makeEntry({ participant: "bo", submittedAt: "2025-03-01T10:00:00Z" }),
      makeEntry({ participant: "bo", submittedAt: "2025-03-02T10:00:00Z" }),
      makeEntry({ participant: "bo", submittedAt: "2025-03-03T10:00:00Z" }),
      makeEntry({ participant: "other", submittedAt: "2025-03-03T10:00:00Z" }),
    );
    const status = await checkQuota(store, "bo", rules, new Date("2025-03-04T10:00:00Z"));
    expect(status).toMatchObject({
      allowed: false,
      usedToday: 0,
      remainingToday: 5,
      usedTotal: 3,
      totalLimit: 3,
      remainingTotal: 0,
      resetsAt: null,
    });
    expect(status.reason).toMatch(/total submission limit reached: bo has used 3 of 3 .*does not reset/);
    expect((await checkQuota(store, "other", rules, new Date("2025-03-04T10:00:00Z"))).allowed).toBe(true);
  });

  it("counts failed runs only when countFailed is on; infrastructure errors never", async () => {
    const day = "2025-03-01T";
    const store = await storeWith(
      makeFailed({ participant: "cy", submittedAt: `${day}01:00:00Z` }),
      makeFailed({ participant: "cy", status: "oom_killed", submittedAt: `${day}02:00:00Z` }),
      makeFailed({ participant: "cy", status: "invalid_submission", submittedAt: `${day}03:00:00Z` }),
      makeFailed({ participant: "cy", status: "infrastructure_error", submittedAt: `${day}04:00:00Z` }),
      makeFailed({ participant: "cy", status: "infrastructure_error", submittedAt: `${day}05:00:00Z` }),
      makeEntry({ participant: "cy", submittedAt: `${day}06:00:00Z` }),
    );
    const now = new Date(`${day}12:00:00Z`);
    const counted = await checkQuota(store, "cy", parseRules({ direction: "higher", dailyLimit: 4 }), now);
    expect(counted).toMatchObject({ allowed: false, usedToday: 4, remainingToday: 0, usedTotal: 4 });
    expect(counted.reason).toMatch(/failed ones included, infrastructure errors excluded/);

    const lenient = await checkQuota(
      store,
      "cy",
      parseRules({ direction: "higher", dailyLimit: 4, countFailed: false }),
      now,
    );
    expect(lenient).toMatchObject({ allowed: true, usedToday: 1, remainingToday: 3, usedTotal: 1 });
  });

  it("without limits always allows and reports no reset", async () => {
    const store = await storeWith(makeEntry({ participant: "dee" }));
    expect(await checkQuota(store, "dee", parseRules({ direction: "lower" }), new Date())).toEqual({
      allowed: true,
      usedToday: 0,
      dailyLimit: null,
      remainingToday: null,
      usedTotal: 1,
      totalLimit: null,
      remainingTotal: null,
      resetsAt: null,
    });
  });
});

describe("UTC day boundaries", () => {
  it("start at UTC midnight whatever the instant's offset", () => {
    const instant = new Date("2025-12-31T23:30:00-05:00"); // 2026-01-01T04:30Z
    expect(startOfUtcDay(instant).toISOString()).toBe("2026-01-01T00:00:00.000Z");
    expect(nextUtcMidnight(instant).toISOString()).toBe("2026-01-02T00:00:00.000Z");
  });
});

describe("the quota counting rule", () => {
  it("covers every run status", () => {
    expect(QUOTA_CASES.map((c) => c.status).sort()).toEqual([...RUN_STATUSES].sort());
  });

  it.each(QUOTA_CASES)(
    "$status: the rule, the memory store and the SQLite store agree",
    async ({ status, counts }) => {
      expect(countsTowardLimits(status, false)).toBe(counts.strict);
      expect(countsTowardLimits(status, true)).toBe(counts.countFailed);
      const dir = mkdtempSync(join(tmpdir(), "proctor-quota-"));
      const sqlite = new SqliteLeaderboardStore(join(dir, "board.db"));
      const memory = new MemoryLeaderboardStore();
      try {
        const entry =
          status === "succeeded" ? makeEntry({ participant: "q" }) : makeFailed({ participant: "q", status });
        for (const store of [sqlite, memory]) {
          await store.record(entry);
          await store.record(makeEntry({ participant: "other" }));
          expect(await store.countSubmissions("q", undefined, false)).toBe(counts.strict ? 1 : 0);
          expect(await store.countSubmissions("q", undefined, true)).toBe(counts.countFailed ? 1 : 0);
        }
      } finally {
        await sqlite.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
