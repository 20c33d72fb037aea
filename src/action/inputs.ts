/**
 * The action's inputs, one typed reader per command. The runner passes every input, `action.yml`'s
 * default where the workflow sets none: the defaults live there only, and these read them. Nothing here
 * touches Docker, the network or the disk, so the parsing has fast tests (INPUT_* variables in, an object
 * out). Secrets are masked (`::add-mask::`) as they are read, before anything else can print them.
 */
import * as core from "@actions/core";
import type { Phase } from "../config/index.js";
import { PHASE_NAME } from "../lifecycle/index.js";
import type { Flavour } from "../runtime/index.js";
import type { RegistryAuth } from "../sandbox/index.js";
import { parseSize } from "../units/index.js";

export const COMMANDS = ["build-runtime", "test-runtime", "publish-runtime", "run-submission"] as const;
export type ActionCommand = (typeof COMMANDS)[number];
const FLAVOURS = ["cpu", "gpu"] as const;

export class InputError extends Error {
  override name = "InputError";
}

/** An input that must be present: says which, and for which command. */
function required(name: string, command: ActionCommand): string {
  const value = core.getInput(name);
  if (!value)
    throw new InputError(
      `input "${name}" is required for command ${command}; set it under with: in the workflow`,
    );
  return value;
}

function optional(name: string): string | undefined {
  return core.getInput(name) || undefined;
}

/** A secret input: masked in the log from here on. */
function secret<T extends string | undefined>(value: T): T {
  if (value) core.setSecret(value);
  return value;
}

function oneOf<T extends string>(name: string, allowed: readonly T[]): T {
  const value = core.getInput(name);
  if (!allowed.includes(value as T)) {
    throw new InputError(
      `input "${name}" must be one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`,
    );
  }
  return value as T;
}

/** The `phase` input: a phase's name as competition.yml's timeline spells them (PHASE_NAME). */
function phaseName(): Phase {
  const value = core.getInput("phase") || "evaluation";
  if (!PHASE_NAME.test(value)) {
    throw new InputError(
      `input "phase" must be a phase name (lowercase letters, digits, _ or -, starting with a letter), got ` +
        JSON.stringify(value),
    );
  }
  return value;
}

function size(name: string, command: ActionCommand): number {
  try {
    return parseSize(required(name, command), `input "${name}"`);
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError((error as Error).message);
  }
}

/** The `command` input: which of the commands to run. */
export function commandInput(): ActionCommand {
  return oneOf("command", COMMANDS);
}

/** What every runtime command reads. */
export interface RuntimeInputs {
  /** Path of competition.yml. */
  config: string;
  flavour: Flavour;
  /** Image repository (no tag); absent: runtime.image of competition.yml. */
  image?: string;
}

function runtimeInputs(command: ActionCommand): RuntimeInputs {
  const image = optional("image");
  return {
    config: required("config", command),
    flavour: oneOf("cpu-or-gpu", FLAVOURS),
    ...(image && { image }),
  };
}

export interface BuildRuntimeInputs extends RuntimeInputs {
  dockerfile: string;
  buildArgs: Record<string, string>;
}

export function buildRuntimeInputs(): BuildRuntimeInputs {
  const buildArgs: Record<string, string> = {};
  for (const line of core.getMultilineInput("build-args")) {
    const at = line.indexOf("=");
    if (at <= 0) throw new InputError(`input "build-args": "${line}" is not KEY=VALUE`);
    buildArgs[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return {
    ...runtimeInputs("build-runtime"),
    dockerfile: required("dockerfile", "build-runtime"),
    buildArgs,
  };
}

export interface TestRuntimeInputs extends RuntimeInputs {
  /** The environment file whose packages must import; absent: environment-<flavour>.yml. */
  environmentFile?: string;
  imageSizeBudget: number;
}

export function testRuntimeInputs(): TestRuntimeInputs {
  const environmentFile = optional("environment-file");
  return {
    ...runtimeInputs("test-runtime"),
    imageSizeBudget: size("image-size-budget", "test-runtime"),
    ...(environmentFile && { environmentFile }),
  };
}

export interface PublishRuntimeInputs extends RuntimeInputs {
  auth: RegistryAuth;
}

export function publishRuntimeInputs(): PublishRuntimeInputs {
  const password = secret(optional("password"));
  const username = required("username", "publish-runtime");
  if (!password) required("password", "publish-runtime");
  const registry = optional("registry");
  return {
    ...runtimeInputs("publish-runtime"),
    auth: { username, password: password!, ...(registry && { serveraddress: registry }) },
  };
}

const SUBMISSION_ID = /^[A-Za-z0-9._-]{1,100}$/;

export interface RunSubmissionInputs {
  config: string;
  flavour: Flavour;
  submissionId: string;
  /** The dispatch's attempt; null: the one the gateway waits for. */
  attempt: number | null;
  gatewayUrl: string;
  runnerCredential: string;
  /**
   * The phase when the gateway recorded none (competition.yml names no phases): evaluation (the hidden set)
   * or smoke_test (the public sample). Where it names phases, the gateway's record decides.
   */
  phase: Phase;
  /** The runtime image; absent: the flavour's image of competition.yml. */
  image?: string;
  /** Largest zip downloaded; absent: limits.zip.max_size of competition.yml. */
  maxZipBytes?: number;
  githubToken: string;
  leaderboardBranch: string;
  /** Credentials to pull the runtime image with, when the workflow passes them. */
  registryAuth: RegistryAuth | null;
  /** The organizer's public key (PEM text); absent: the file competition.yml names. */
  sealingPublicKey?: string;
  issueNumber?: number;
  statusSha?: string;
}

export function runSubmissionInputs(): RunSubmissionInputs {
  const command = "run-submission";
  // Masked before anything can print them (the runner masks secrets too; this covers a value passed otherwise).
  const runnerCredential = secret(required("runner-credential", command));
  const githubToken = secret(required("github-token", command));
  const password = secret(optional("password"));
  const submissionId = required("submission-id", command);
  if (!SUBMISSION_ID.test(submissionId))
    throw new InputError(
      `input "submission-id" must match ${SUBMISSION_ID}, got ${JSON.stringify(submissionId)}`,
    );
  const attempt = optional("attempt");
  if (attempt !== undefined && !/^[1-9][0-9]{0,9}$/.test(attempt))
    throw new InputError(`input "attempt" must be a positive whole number, or empty`);
  const gatewayUrl = required("gateway-url", command).replace(/\/+$/, "");
  if (!/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/.test(gatewayUrl))
    throw new InputError(
      `input "gateway-url" must be the gateway's http(s) base URL (the repository secret PROCTOR_GATEWAY_URL)`,
    );
  const username = optional("username");
  const registry = optional("registry");
  if (username && !password) required("password", command);
  const image = optional("image");
  const sealingPublicKey = optional("sealing-public-key");
  const issueNumber = optional("issue-number");
  const statusSha = optional("status-sha");
  return {
    config: required("config", command),
    flavour: oneOf("cpu-or-gpu", FLAVOURS),
    submissionId,
    attempt: attempt === undefined ? null : Number(attempt),
    gatewayUrl,
    runnerCredential,
    phase: phaseName(),
    githubToken,
    leaderboardBranch: required("leaderboard-branch", command),
    registryAuth: username
      ? { username, password: password!, ...(registry && { serveraddress: registry }) }
      : null,
    ...(image && { image }),
    ...(optional("max-zip-size") && { maxZipBytes: size("max-zip-size", command) }),
    ...(sealingPublicKey && { sealingPublicKey }),
    // A dispatch without an issue to comment on passes an empty (or no) number: nothing to comment on.
    ...(issueNumber && /^\d+$/.test(issueNumber) && { issueNumber: Number(issueNumber) }),
    ...(statusSha && { statusSha }),
  };
}
