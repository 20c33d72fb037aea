import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Parses each file given on the command line; prints "file:line: message" for each that does not parse. */
const CHECK = `
import ast, sys
for name in sys.argv[1:]:
    try:
        with open(name, "rb") as f:
            ast.parse(f.read(), name)
    except SyntaxError as e:
        print(f"{name}:{e.lineno}: {e.msg}")
`;

/**
 * The syntax errors of the Python files among `files` (paths relative to `dir`), found with this machine's
 * python3 (not the runtime's: a hint before packing, never a refusal). [] where there is no python3.
 */
export async function pythonSyntaxErrors(dir: string, files: string[]): Promise<string[]> {
  const python = files.filter((file) => file.endsWith(".py"));
  if (python.length === 0) return [];
  try {
    const { stdout } = await run("python3", ["-c", CHECK, ...python], {
      cwd: path.resolve(dir),
      timeout: 60_000,
    });
    return stdout.split("\n").filter((line) => line !== "");
  } catch {
    return [];
  }
}
