/**
 * Child process for the cross-process concurrency test: waits for a start signal, then records its
 * entries one by one (one transaction each) into the shared SQLite file.
 * argv: <db path> <worker index> <count> <shared count> <start-file>
 */
import { existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { SqliteLeaderboardStore } from "../sqlite-store.js";
import { makeEntry } from "./entries.js";

const [path, indexText, countText, sharedText, startFile] = process.argv.slice(2);
const worker = Number(indexText);
const count = Number(countText);
const shared = Number(sharedText);

const store = new SqliteLeaderboardStore(path!);
while (!existsSync(startFile!)) await sleep(5);
for (let i = 0; i < count; i += 1) {
  await store.record(
    makeEntry({
      submissionId: `w${worker}-${i}`,
      participant: `p${i % 50}`,
      submittedAt: new Date(Date.UTC(2025, 2, 1) + worker * 1000 + i).toISOString(),
      publicScore: worker + i / 1000,
    }),
  );
  // Every worker also records the same shared ids: cross-process upserts must not duplicate them.
  if (i < shared) await store.record(makeEntry({ submissionId: `shared-${i}`, participant: `w${worker}` }));
}
await store.close();
