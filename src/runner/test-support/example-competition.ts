/**
 * Test support: the repository's example competition.yml with every path made absolute to this clone's
 * data (runner_paths name /srv/proctor, a runner machine's disk), so a runner in a temporary folder, or a
 * `proctor runner` process started there, finds the data.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";

export async function exampleCompetitionYml(root = process.cwd()): Promise<string> {
  const at = (relative: string) => path.join(root, relative);
  return (await readFile(at("competition.yml"), "utf8"))
    .replace("/srv/proctor/test_features", at("data/test_features"))
    .replace("/srv/proctor/ground_truth.csv", at("data/ground_truth.csv"))
    .replace("data_dir: data/test_features", `data_dir: ${at("data/test_features")}`)
    .replace("ground_truth: data/ground_truth.csv", `ground_truth: ${at("data/ground_truth.csv")}`)
    .replace("submission_format/format.yml", at("submission_format/format.yml"));
}
