import { Command, InvalidArgumentError, Option } from "commander";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { createGateway } from "../gateway/index.js";
import { createGitHubClient } from "../github/index.js";
import { MIN_SECRET_BYTES } from "../intake/index.js";
import { parseDuration, UnitError } from "../units/index.js";
import { competitionFrom, CONFIG_OPTION } from "./context.js";
import { UsageError } from "./usage-error.js";

/** Where `proctor serve` and `proctor tokens` keep the intake's database, zips and secret by default. */
export const DEFAULT_GATEWAY_DATA_DIR = ".proctor/gateway";
export const DATA_DIR_OPTION = [
  "--data-dir <dir>",
  "the gateway's data: intake.sqlite, submissions/, server-secret",
  DEFAULT_GATEWAY_DATA_DIR,
] as const;

const duration = (what: string) => (value: string) => {
  try {
    return parseDuration(value, what);
  } catch (error) {
    if (error instanceof UnitError) throw new InvalidArgumentError(error.message);
    throw error;
  }
};

const port = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError(`--port "${value}" must be 0 to 65535`);
  return n;
};

/**
 * The server secret: $PROCTOR_GATEWAY_SECRET, else --secret-file, else <data-dir>/server-secret (made on
 * first start, 0600). Changing it invalidates every download link and result token in flight.
 */
async function serverSecret(dataDir: string, secretFile: string | undefined): Promise<string> {
  const fromEnv = process.env["PROCTOR_GATEWAY_SECRET"];
  const check = (secret: string, where: string) => {
    if (Buffer.byteLength(secret) < MIN_SECRET_BYTES) {
      throw new UsageError(
        `${where} holds ${Buffer.byteLength(secret)} bytes; the server secret must be at least ` +
          `${MIN_SECRET_BYTES} (e.g. \`openssl rand -hex 32\`)`,
      );
    }
    return secret;
  };
  if (fromEnv) return check(fromEnv.trim(), "PROCTOR_GATEWAY_SECRET");
  if (secretFile) {
    const text = await readFile(secretFile, "utf8").catch(() => {
      throw new UsageError(`--secret-file ${secretFile}: cannot read this file`);
    });
    return check(text.trim(), `--secret-file ${secretFile}`);
  }
  const file = path.join(dataDir, "server-secret");
  const existing = await readFile(file, "utf8").catch(() => undefined);
  if (existing !== undefined) return check(existing.trim(), file);
  const made = randomBytes(32).toString("hex");
  await writeFile(file, `${made}\n`, { mode: 0o600, flag: "wx" });
  process.stderr.write(`made a new server secret in ${file} (keep it; back it up with the data dir)\n`);
  return made;
}

interface ServeFlags {
  config: string;
  dataDir: string;
  host: string;
  port: number;
  publicUrl?: string;
  repo: string;
  githubApiUrl: string;
  eventType: string;
  secretFile?: string;
  trustProxy: boolean;
  sweepInterval: number;
  runningGrace: number;
  linkTtl: number;
  logLevel: string;
}

export function serveCommand(): Command {
  return new Command("serve")
    .description(
      "run the upload gateway: participants submit zips with their tokens; it checks them, keeps them, and " +
        "dispatches them to the runners (bind it to localhost behind a TLS proxy; see docs/gateway.md)",
    )
    .option(...CONFIG_OPTION)
    .option(...DATA_DIR_OPTION)
    .option("--host <address>", "address to listen on", "127.0.0.1")
    .option("--port <n>", "port to listen on (0: any free port)", port, 8080)
    .option(
      "--public-url <url>",
      "the gateway's https URL as runners and participants reach it (default http://HOST:PORT)",
    )
    .requiredOption(
      "--repo <owner/name>",
      "the repository whose runners take submissions (repository_dispatch)",
    )
    .option(
      "--github-api-url <url>",
      "GitHub's REST API (GHES: https://HOST/api/v3)",
      "https://api.github.com",
    )
    .option("--event-type <type>", "the repository_dispatch event type", "submission")
    .option(
      "--secret-file <file>",
      "file with the server secret (default $PROCTOR_GATEWAY_SECRET, else <data-dir>/server-secret)",
    )
    .option("--trust-proxy", "trust X-Forwarded-For from the proxy in front (per-address rate limits)", false)
    .addOption(
      new Option("--sweep-interval <duration>", "how often stuck runs and failed dispatches are looked at")
        .default(30_000, "30s")
        .argParser(duration("--sweep-interval")),
    )
    .addOption(
      new Option("--running-grace <duration>", "extra time past the time limit before a run counts as lost")
        .default(15 * 60_000, "15m")
        .argParser(duration("--running-grace")),
    )
    .addOption(
      new Option("--link-ttl <duration>", "how long a zip download link stays valid")
        .default(24 * 3600_000, "24h")
        .argParser(duration("--link-ttl")),
    )
    .addOption(
      new Option("--log-level <level>", "request log level (JSON lines on stdout)")
        .choices(["fatal", "error", "warn", "info", "debug", "silent"])
        .default("info"),
    )
    .action(async (flags: ServeFlags) => {
      const repo = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/.exec(flags.repo);
      if (!repo) throw new UsageError(`--repo ${JSON.stringify(flags.repo)} must be owner/name`);
      const token = process.env["PROCTOR_GITHUB_TOKEN"] || process.env["GITHUB_TOKEN"];
      if (!token) {
        throw new UsageError(
          "no GitHub token: set PROCTOR_GITHUB_TOKEN (or GITHUB_TOKEN) to a token that may send " +
            `repository_dispatch to ${flags.repo} (fine-grained: Contents read and write)`,
        );
      }
      if (flags.publicUrl !== undefined && !/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/.test(flags.publicUrl)) {
        throw new UsageError(`--public-url ${JSON.stringify(flags.publicUrl)} must be an http(s) base URL`);
      }
      const competition = await competitionFrom(flags.config);
      const dataDir = path.resolve(flags.dataDir);
      await mkdir(dataDir, { recursive: true, mode: 0o700 });
      const secret = await serverSecret(dataDir, flags.secretFile);

      const gateway = createGateway({
        competition,
        dataDir,
        secret,
        github: {
          client: createGitHubClient({ token, baseUrl: flags.githubApiUrl }),
          owner: repo[1]!,
          repo: repo[2]!,
          eventType: flags.eventType,
        },
        ...(flags.publicUrl && { publicUrl: flags.publicUrl }),
        trustProxy: flags.trustProxy,
        sweepIntervalMs: flags.sweepInterval,
        runningGraceMs: flags.runningGrace,
        downloadTtlMs: flags.linkTtl,
        logger: flags.logLevel === "silent" ? false : { level: flags.logLevel },
      });
      const address = await gateway.app
        .listen({ host: flags.host, port: flags.port })
        .catch((error: Error) => {
          throw new UsageError(`cannot listen on ${flags.host}:${flags.port}: ${error.message}`);
        });
      process.stderr.write(
        `proctor gateway for "${competition.name}" listening on ${address}; runners fetch from ` +
          `${gateway.publicUrl()}; dispatching to ${flags.repo}; data in ${dataDir}\n`,
      );
      if (!flags.publicUrl && !["127.0.0.1", "localhost", "::1"].includes(flags.host)) {
        process.stderr.write("warning: no --public-url; put the gateway behind TLS and pass its https URL\n");
      }
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          process.stderr.write(`${signal}: closing the gateway\n`);
          gateway.close().then(resolve, resolve);
        };
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
    });
}
