import { execFileSync } from "node:child_process";
import type { TestProject } from "vitest/node";

/**
 * Tests run on the real Docker engine with the offline base image (debootstrap + docker import, cached by
 * a hash of its recipe). `make test` (scripts/setup-machine.sh) starts the engine; here we only check it and build the image if
 * needed.
 */
export default function setup(project: TestProject): void {
  try {
    execFileSync("docker", ["info"], { stdio: "ignore" });
  } catch {
    throw new Error(
      "No Docker engine answers `docker info`. Run make test (it sets the machine up), or start one with scripts/ensure-engine.sh (root), and rerun.",
    );
  }
  const out = execFileSync("bash", ["scripts/build-base-image.sh"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 64 * 1024 * 1024,
  });
  const baseImage = out.trim().split("\n").pop()!;
  project.provide("baseImage", baseImage);
}

declare module "vitest" {
  export interface ProvidedContext {
    baseImage: string;
  }
}
