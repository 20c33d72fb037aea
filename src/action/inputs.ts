import * as core from "@actions/core";
import { parseSize } from "../units/index.js";

export const COMMANDS = ["build-runtime", "test-runtime", "publish-runtime", "run-submission"] as const;
export type ActionCommand = (typeof COMMANDS)[number];

export class InputError extends Error {
  override name = "InputError";
}

/** An input that must be present: says which, and for which command. */
export function required(name: string, command: string): string {
  const value = core.getInput(name);
  if (!value)
    throw new InputError(
      `input "${name}" is required for command ${command}; set it under with: in the workflow`,
    );
  return value;
}

export function optional(name: string): string | undefined {
  return core.getInput(name) || undefined;
}

export function oneOf<T extends string>(name: string, allowed: readonly T[], fallback?: T): T {
  const value = core.getInput(name) || fallback;
  if (!value || !allowed.includes(value as T)) {
    throw new InputError(
      `input "${name}" must be one of ${allowed.join(", ")}, got ${JSON.stringify(value ?? "")}`,
    );
  }
  return value as T;
}

export function size(name: string, fallback: string): number {
  const text = core.getInput(name) || fallback;
  try {
    return parseSize(text, `input "${name}"`);
  } catch (error) {
    throw new InputError((error as Error).message);
  }
}
