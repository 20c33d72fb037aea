/**
 * Test support: the containers the engine created for a claim (its `org.proctor.claim` label) since a time,
 * from the engine's own event log: what a re-score must never make, and a run always does.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { CLAIM_LABEL } from "../run-claim.js";

const run = promisify(execFile);

export async function containersCreated(claim: string, since: Date): Promise<string[]> {
  const { stdout } = await run("docker", [
    "events",
    "--since",
    String(Math.floor(since.getTime() / 1000) - 1),
    "--until",
    String(Math.ceil(Date.now() / 1000) + 1),
    "--filter",
    "type=container",
    "--filter",
    "event=create",
    "--filter",
    `label=${CLAIM_LABEL}=${claim}`,
    "--format",
    "{{.Actor.ID}}",
  ]);
  return stdout.split("\n").filter(Boolean);
}
