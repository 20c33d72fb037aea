/** Test support: runs a command in-process, capturing stdout, stderr, the exit code and a thrown error. */
import type { Command } from "commander";
import { vi } from "vitest";

export interface Ran {
  stdout: string;
  stderr: string;
  code: number | undefined;
  error: unknown;
}

export async function cli(command: Command, args: string[]): Promise<Ran> {
  const out: string[] = [];
  const err: string[] = [];
  const o = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => (out.push(String(chunk)), true));
  const e = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => (err.push(String(chunk)), true));
  process.exitCode = undefined;
  let error: unknown;
  try {
    await command.exitOverride().parseAsync(args, { from: "user" });
  } catch (caught) {
    error = caught;
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
  const code = process.exitCode as number | undefined;
  process.exitCode = undefined;
  return { stdout: out.join(""), stderr: err.join(""), code, error };
}
