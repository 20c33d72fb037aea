/**
 * Where `proctor submit`/`status` find the gateway and the participant's token, first match wins:
 *
 *   server: --server, then $PROCTOR_SERVER, then "server" in the credentials file
 *   token:  --token, then $PROCTOR_TOKEN, then "token" in the credentials file
 *
 * The credentials file is $XDG_CONFIG_HOME/proctor/credentials.json (default ~/.config/proctor/…):
 * `{ "server": "https://submit.example.org", "token": "pct_…" }`. It must not be readable by group or
 * others (chmod 600), and its token is only ever sent to its own server: with another --server it is not
 * used.
 */
import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";

export interface CredentialsFile {
  server?: string;
  token?: string;
}

export interface ResolvedCredentials {
  server: string;
  token: string;
  tokenSource: "flag" | "env" | "file";
}

export class CredentialsError extends Error {
  override name = "CredentialsError";
}

export function defaultCredentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  const config = env["XDG_CONFIG_HOME"] || path.join(env["HOME"] || os.homedir(), ".config");
  return path.join(config, "proctor", "credentials.json");
}

/** A server URL as compared and used: http(s), no credentials, no trailing slash, no query. */
export function normaliseServer(server: string, what = "--server"): string {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new CredentialsError(
      `${what} ${JSON.stringify(server)} is not a URL; give e.g. https://submit.example.org`,
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new CredentialsError(`${what} must be an http(s) URL, got ${url.protocol}`);
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new CredentialsError(`${what} must be a plain base URL (no user, query or fragment)`);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

async function readCredentialsFile(file: string): Promise<CredentialsFile | undefined> {
  let stat;
  try {
    stat = await fsp.stat(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  if (process.platform !== "win32" && (stat.mode & 0o077) !== 0) {
    throw new CredentialsError(
      `${file} is readable by others (mode ${(stat.mode & 0o777).toString(8)}); it holds your token: ` +
        `run \`chmod 600 ${file}\``,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(await fsp.readFile(file, "utf8"));
  } catch (error) {
    throw new CredentialsError(
      `${file} is not valid JSON (${(error as Error).message}); expected {"server": "...", "token": "..."}`,
    );
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new CredentialsError(`${file} must hold a JSON object {"server": "...", "token": "..."}`);
  }
  const { server, token } = parsed as Record<string, unknown>;
  if (server !== undefined && typeof server !== "string")
    throw new CredentialsError(`${file}: "server" must be a string`);
  if (token !== undefined && typeof token !== "string")
    throw new CredentialsError(`${file}: "token" must be a string`);
  return { ...(server !== undefined && { server }), ...(token !== undefined && { token }) };
}

export async function resolveCredentials(input: {
  server?: string;
  token?: string;
  env?: NodeJS.ProcessEnv;
  /** Default: defaultCredentialsPath(env). */
  file?: string;
}): Promise<ResolvedCredentials> {
  const env = input.env ?? process.env;
  const file = input.file ?? defaultCredentialsPath(env);
  const stored = await readCredentialsFile(file);
  // Empty values count as unset (e.g. `PROCTOR_TOKEN=` in a shell).
  const serverGiven = input.server || env["PROCTOR_SERVER"] || stored?.server;
  if (!serverGiven) {
    throw new CredentialsError(
      `no gateway given: pass --server https://…, set PROCTOR_SERVER, or put "server" in ${file}`,
    );
  }
  const server = normaliseServer(
    serverGiven,
    input.server ? "--server" : env["PROCTOR_SERVER"] ? "PROCTOR_SERVER" : `${file} "server"`,
  );
  if (input.token) return { server, token: input.token, tokenSource: "flag" };
  if (env["PROCTOR_TOKEN"]) return { server, token: env["PROCTOR_TOKEN"], tokenSource: "env" };
  if (stored?.token) {
    const storedServer =
      stored.server === undefined ? undefined : normaliseServer(stored.server, `${file} "server"`);
    if (storedServer === undefined || storedServer === server)
      return { server, token: stored.token, tokenSource: "file" };
    throw new CredentialsError(
      `the token in ${file} is for ${storedServer}, not ${server}; it is not sent elsewhere: pass --token ` +
        `or PROCTOR_TOKEN for this server`,
    );
  }
  throw new CredentialsError(
    `no token: pass --token, set PROCTOR_TOKEN, or write {"server": "${server}", "token": "…"} to ${file} ` +
      `(chmod 600)`,
  );
}
