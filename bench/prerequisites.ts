/**
 * What each benchmark needs from the machine, checked before any runs: a benchmark that would die halfway
 * says instead what is missing and how to get it.
 */
import { execFileSync } from "node:child_process";

interface Need {
  what: string;
  fix: string;
  present(): boolean;
}

const works = (command: string, args: string[]) => () => {
  try {
    execFileSync(command, args, { stdio: "ignore", timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
};

const DOCKER: Need = {
  what: "a running Docker engine",
  fix: "bash scripts/ensure-engine.sh (as root), or make setup",
  present: works("docker", ["info"]),
};
const DEBOOTSTRAP_OR_BASE: Need = {
  what: "the offline base image, or debootstrap to build it",
  fix: "sudo apt-get install debootstrap, or make setup",
  present: () =>
    works("bash", ["-c", "command -v debootstrap || docker images -q proctor/base | grep -q ."])(),
};
const RUNTIME_OFFLINE: Need = {
  what: "the offline runtime image proctor/runtime:cpu-offline (what the runners run)",
  fix: "make build-offline",
  present: works("docker", ["image", "inspect", "proctor/runtime:cpu-offline"]),
};
const PANDAS: Need = {
  what: "Debian's python3 with pandas and scikit-learn (the scoring baseline)",
  fix: "sudo apt-get install python3-pandas python3-sklearn, or make setup",
  present: works("/usr/bin/python3", ["-c", "import pandas, sklearn"]),
};

export const PREREQUISITES: Record<string, Need[]> = {
  run: [DOCKER, DEBOOTSTRAP_OR_BASE],
  extract: [],
  image: [],
  "per-case": [DOCKER, DEBOOTSTRAP_OR_BASE],
  scoring: [PANDAS],
  leaderboard: [],
  gateway: [],
  runners: [DOCKER, RUNTIME_OFFLINE],
};

/** The missing prerequisites of these benchmarks, one line each with the fix ([] when all are there). */
export function missingPrerequisites(names: string[]): string[] {
  const needs = new Set(names.flatMap((name) => PREREQUISITES[name] ?? []));
  return [...needs].filter((need) => !need.present()).map((need) => `${need.what}: ${need.fix}`);
}
