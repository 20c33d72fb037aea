/**
 * Digests of what decides a score: the metric (a built-in's name, or the custom scorer's name, command,
 * image and every file of its folder), the ground truth and the submission format. Two setups with the
 * same digests score every submission alike; a local leaderboard keeps one board per setup.
 */
import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir } from "node:fs/promises";
import path from "node:path";
import type { Metric } from "./score-submission.js";

export interface ScoringSetup {
  metric: Metric;
  direction: "higher" | "lower";
  usageColumn: string | null;
  groundTruthPath: string;
  formatPath: string;
}

export interface ScoringSetupDigests {
  metric: string;
  groundTruth: string;
  format: string;
}

/** sha256 hex digests; a file that cannot be read digests as "missing" (the setup check reports it). */
export async function scoringSetupDigests(setup: ScoringSetup): Promise<ScoringSetupDigests> {
  const [metric, groundTruth, format] = await Promise.all([
    metricDigest(setup),
    fileDigest(setup.groundTruthPath),
    fileDigest(setup.formatPath),
  ]);
  return { metric, groundTruth, format };
}

async function metricDigest(setup: ScoringSetup): Promise<string> {
  const hash = createHash("sha256");
  const { metric } = setup;
  // The usage column decides which rows make the public score; the direction, which score ranks first.
  const own = { direction: setup.direction, usageColumn: setup.usageColumn };
  if (typeof metric === "string") {
    hash.update(JSON.stringify({ metric, ...own }));
    return hash.digest("hex");
  }
  const { name, command, image, scriptDir } = metric.custom;
  hash.update(JSON.stringify({ custom: { name, command, image: image ?? null }, ...own }));
  if (scriptDir) await folderInto(hash, scriptDir);
  return hash.digest("hex");
}

/** Every regular file of the folder, by relative path (sorted), its name and its bytes. */
async function folderInto(hash: Hash, dir: string): Promise<void> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => null);
  if (!entries) return void hash.update("\0missing folder");
  const files = entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
  for (const file of files) {
    hash.update(`\0${file}\0`);
    hash.update(await fileDigest(path.join(dir, file)));
  }
}

async function fileDigest(file: string): Promise<string> {
  const hash = createHash("sha256");
  try {
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  } catch {
    return "missing";
  }
  return hash.digest("hex");
}
