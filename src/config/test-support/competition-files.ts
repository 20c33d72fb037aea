import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect } from "vitest";
import { YamlConfigError } from "../../yaml/index.js";
import { loadCompetition } from "../competition.js";

/** The smallest competition.yml that loads: tests add to it, or replace a line, for what they check. */
export const MINIMAL_COMPETITION = `name: Demo
runtime:
  image: org/runtime
paths:
  data_dir: data/x
  ground_truth: truth.csv
  submission_format: format.yml
scoring:
  metric: rmse
  direction: lower
`;

/**
 * competition.yml files written to a scratch folder made before and removed after the test file: `write`
 * returns the file's path, `issuesOf` the problems loading it reports (and fails if it loads), `folder` the
 * scratch folder (for files a competition.yml names beside it).
 */
export function competitionFiles(prefix: string) {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));
  let n = 0;
  const write = async (text: string): Promise<string> => {
    const file = path.join(dir, `c${++n}.yml`);
    await writeFile(file, text);
    return file;
  };
  const issuesOf = async (text: string) => {
    const error = await loadCompetition(await write(text)).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(YamlConfigError);
    return (error as YamlConfigError).issues;
  };
  return { write, issuesOf, folder: () => dir };
}
