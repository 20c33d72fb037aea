import { Command, InvalidArgumentError, Option } from "commander";
import { mkdir } from "node:fs/promises";
import { isIP } from "node:net";
import path from "node:path";
import type { Competition } from "../config/index.js";
import { createGateway, type Gateway } from "../gateway/index.js";
import { createGitHubClient } from "../github/index.js";
import { parseDuration } from "../units/index.js";
import { checkSetup } from "../pipeline/setup-check.js";
import { reportText } from "./setup-report.js";
import { competitionFrom, CONFIG_OPTION } from "./context.js";
import { unitArg, UsageError } from "./usage-error.js";

/** Where `proctor serve`, `proctor tokens` and `proctor runners` keep the intake's database and zips. */
export const DEFAULT_GATEWAY_DATA_DIR = ".proctor/gateway";
export const DATA_DIR_OPTION = [
  "--data-dir <dir>",
  "the gateway's data: intake.sqlite, submissions/",
  DEFAULT_GATEWAY_DATA_DIR,
] as const;

const duration = (what: string) => unitArg((value) => parseDuration(value, what));

const port = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError(`--port "${value}" must be 0 to 65535`);
  return n;
};

/** Fastify's (proxy-addr's) names for address ranges. */
const NAMED_RANGES = ["loopback", "linklocal", "uniquelocal"];
const TRUST_PROXY_EXAMPLE =
  "e.g. --trust-proxy 127.0.0.1 for a proxy on this host, or --trust-proxy 10.0.0.0/8 for proxies in that range";

/**
 * --trust-proxy: the addresses and CIDRs of the proxies in front, as Fastify trusts them (the client is the
 * right-most X-Forwarded-For address that is not one of them). No hop count: Fastify trusts no one for a
 * number, since a hop count can't tell the proxy from a client that sends its own X-Forwarded-For.
 */
export function trustProxyArg(value: string): string[] {
  if (/^\s*\d+\s*$/.test(value)) {
    throw new InvalidArgumentError(
      `--trust-proxy "${value}" is a hop count: a hop count can't tell the proxy from a client that sends its ` +
        `own X-Forwarded-For (Fastify trusts no one for it); pass the proxy's address or CIDR instead, ` +
        TRUST_PROXY_EXAMPLE,
    );
  }
  const entries = value.split(",").map((entry) => entry.trim());
  for (const entry of entries) {
    if (!NAMED_RANGES.includes(entry) && !isAddressOrCidr(entry)) {
      throw new InvalidArgumentError(
        `--trust-proxy ${JSON.stringify(value)}: ${JSON.stringify(entry)} is not an IP address, a CIDR ` +
          `(address/prefix length: 1 to 32 for IPv4, 1 to 128 for IPv6) or one of ${NAMED_RANGES.join(", ")}; ` +
          `pass the proxies' addresses separated by commas, ${TRUST_PROXY_EXAMPLE}`,
      );
    }
  }
  return entries;
}

function isAddressOrCidr(entry: string): boolean {
  const [address = "", prefix, ...rest] = entry.split("/");
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) >= 1 && Number(prefix) <= (family === 4 ? 32 : 128);
}

interface ServeFlags {
  config: string;
  dataDir: string;
  host: string;
  port: number;
  publicUrl?: string;
  repo?: string;
  localRunners?: number;
  image?: string;
  githubApiUrl: string;
  eventType: string;
  /** true: the flag without its value, refused (see trustProxyArg). */
  trustProxy?: string[] | true;
  sweepInterval: number;
  runningGrace: number;
  pickupDeadline: number;
  logLevel: string;
  metricsToken?: string;
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
    .option(
      "--repo <owner/name>",
      "the repository whose Actions runners take submissions (repository_dispatch); without it, pull runners " +
        "claim them (--local-runners, `proctor runner`)",
    )
    .option(
      "--local-runners <n>",
      "runner slots in this process, on this machine's Docker engine (default 1 without --repo, 0 with it)",
      localRunnersArg,
    )
    .option(
      "--image <ref>",
      "the local runners' runtime image (default: the competition's, else its offline flavour where only that is here)",
    )
    .option(
      "--github-api-url <url>",
      "GitHub's REST API (GHES: https://HOST/api/v3)",
      "https://api.github.com",
    )
    .option("--event-type <type>", "the repository_dispatch event type", "submission")
    .option(
      "--trust-proxy [proxies]",
      "the addresses or CIDRs of the proxies in front, comma-separated: their X-Forwarded-For tells the client's " +
        "address (per-address rate limits)",
      trustProxyArg,
    )
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
      new Option(
        "--pickup-deadline <duration>",
        "how long a dispatched submission may wait for a runner before it is dispatched again (once)",
      )
        .default(6 * 3600_000, "6h")
        .argParser(duration("--pickup-deadline")),
    )
    .addOption(
      new Option(
        "--metrics-token <token>",
        "the bearer token GET /metrics then requires (16 or more characters, e.g. `openssl rand -hex 32`; " +
          "prefer the environment variable: arguments show in the process list); without it /metrics is open",
      ).env("PROCTOR_METRICS_TOKEN"),
    )
    .addOption(
      new Option("--log-level <level>", "request log level (JSON lines on stdout)")
        .choices(["fatal", "error", "warn", "info", "debug", "silent"])
        .default("info"),
    )
    .action(async (flags: ServeFlags) => {
      if (flags.trustProxy === true) {
        throw new UsageError(
          "--trust-proxy needs the proxies' addresses: trusting every X-Forwarded-For would let a client pick its " +
            `own address (and a fresh rate-limit budget); pass the address or CIDR of the proxy in front, ` +
            `${TRUST_PROXY_EXAMPLE} (several separated by commas)`,
        );
      }
      const github =
        flags.repo === undefined ? undefined : githubTarget(flags.repo, flags.githubApiUrl, flags.eventType);
      const localRunners = flags.localRunners ?? (github ? 0 : 1);
      if (flags.publicUrl !== undefined && !/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/.test(flags.publicUrl)) {
        throw new UsageError(`--public-url ${JSON.stringify(flags.publicUrl)} must be an http(s) base URL`);
      }
      if (flags.metricsToken !== undefined && !/^\S{16,}$/.test(flags.metricsToken)) {
        throw new UsageError(
          "--metrics-token (or PROCTOR_METRICS_TOKEN) must be 16 or more characters without spaces, so that it " +
            "cannot be guessed: make one with `openssl rand -hex 32`",
        );
      }
      // The same check as `proctor check`, less the scorer's run (the gateway need not have Docker).
      const setup = await checkSetup(flags.config);
      if (setup.problems.length > 0)
        throw new UsageError(
          `the competition's setup is broken, so the gateway does not start:\n${reportText(setup)}`,
        );
      const competition = await competitionFrom(flags.config);
      const dataDir = path.resolve(flags.dataDir);
      await mkdir(dataDir, { recursive: true, mode: 0o700 });

      const gateway = createGateway({
        competition,
        dataDir,
        ...(github && { github }),
        ...(flags.publicUrl && { publicUrl: flags.publicUrl }),
        ...(flags.trustProxy && { trustProxy: flags.trustProxy }),
        sweepIntervalMs: flags.sweepInterval,
        runningGraceMs: flags.runningGrace,
        pickupDeadlineMs: flags.pickupDeadline,
        ...(flags.metricsToken !== undefined && { metricsToken: flags.metricsToken }),
        logger: flags.logLevel === "silent" ? false : { level: flags.logLevel },
      });
      const address = await gateway.app
        .listen({ host: flags.host, port: flags.port })
        .catch((error: Error) => {
          throw new UsageError(`cannot listen on ${flags.host}:${flags.port}: ${error.message}`);
        });
      process.stderr.write(
        `proctor gateway for "${competition.name}" listening on ${address}; ` +
          `${flags.repo ? `dispatching to ${flags.repo}` : "no GitHub dispatch"}` +
          `${localRunners > 0 ? `; ${localRunners} local runner slot${localRunners === 1 ? "" : "s"}` : ""}; data in ${dataDir}\n` +
          `runners reach it at ${gateway.publicUrl()}: ${flags.repo ? "set the repository secrets PROCTOR_GATEWAY_URL to that URL and PROCTOR_RUNNER_CREDENTIAL" : `start \`proctor runner --gateway ${gateway.publicUrl()}\` with PROCTOR_RUNNER_CREDENTIAL set`} to a credential from ` +
          `\`proctor runners add <runner>\`\nparticipants sign in at ${gateway.publicUrl()}/signin with a token ` +
          `from \`proctor tokens add <participant>\`; organizers see the queue at /admin with one from ` +
          `\`proctor admins add <name>\`\nthe public status is at /status (JSON: /v1/status); Prometheus metrics at ` +
          `/metrics${flags.metricsToken === undefined ? " (open: --metrics-token closes it)" : " (bearer token required)"}\n`,
      );
      if (!flags.publicUrl && !["127.0.0.1", "localhost", "::1"].includes(flags.host)) {
        process.stderr.write("warning: no --public-url; put the gateway behind TLS and pass its https URL\n");
      }
      const runners =
        localRunners > 0
          ? await startLocalRunners(gateway, competition, localRunners, flags.image)
          : undefined;
      await new Promise<void>((resolve) => {
        let signals = 0;
        const stop = (signal: string) => {
          signals += 1;
          if (signals > 1) {
            // A second signal: the local runs stop now and give their claims back.
            void runners?.stopNow();
            return;
          }
          process.stderr.write(
            `${signal}: ${runners ? "the local runs under way finish and report (again to stop them now), then " : ""}closing the gateway\n`,
          );
          void (runners?.drain() ?? Promise.resolve())
            .then(() => runners?.close())
            .then(() => gateway.close())
            .then(resolve, resolve);
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
    });
}

const localRunnersArg = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 64)
    throw new InvalidArgumentError(
      `--local-runners "${value}" must be a whole number from 0 to 64 (runs at once)`,
    );
  return n;
};

/** --repo and the GitHub token: where dispatches go. */
function githubTarget(repo: string, apiUrl: string, eventType: string) {
  const parts = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/.exec(repo);
  if (!parts) throw new UsageError(`--repo ${JSON.stringify(repo)} must be owner/name`);
  const token = process.env["PROCTOR_GITHUB_TOKEN"] || process.env["GITHUB_TOKEN"];
  if (!token) {
    throw new UsageError(
      "no GitHub token: set PROCTOR_GITHUB_TOKEN (or GITHUB_TOKEN) to a token that may send " +
        `repository_dispatch to ${repo} (fine-grained: Contents read and write), or leave --repo out to run ` +
        "submissions with local and pull runners only",
    );
  }
  return {
    client: createGitHubClient({ token, baseUrl: apiUrl }),
    owner: parts[1]!,
    repo: parts[2]!,
    eventType,
  };
}

/**
 * N runner slots in this process, on this machine's engine, talking to the gateway over its own HTTP
 * protocol with a runner credential made for them (revoked at close). They read each phase's runner_paths,
 * else the competition's paths (a fresh clone runs a whole competition). Docker's client is loaded only here.
 */
async function startLocalRunners(gateway: Gateway, competition: Competition, slots: number, image?: string) {
  const [{ PullRunner, formatRunnerEvent }, { imageRef }, { resolveImage }] = await Promise.all([
    import("../runner/index.js"),
    import("../config/index.js"),
    import("../sandbox/index.js"),
  ]);
  const credential = gateway.intake.runners.add("local-runners");
  const kind = competition.runners.includes("cpu") ? "cpu" : "gpu";
  const onEngine = (ref: string) =>
    resolveImage(ref).then(
      () => true,
      () => false,
    );
  // The competition's image; on a machine that only has the offline flavour (built here), that one.
  const chosen =
    image ??
    ((await onEngine(imageRef(competition, kind))) || !(await onEngine(imageRef(competition, "offline")))
      ? imageRef(competition, kind)
      : imageRef(competition, "offline"));
  const runner = new PullRunner({
    gateway: { server: gateway.publicUrl(), token: credential.token },
    kind,
    slots,
    competition,
    image: chosen,
    local: true,
    name: "local",
    log: (event) => process.stderr.write(`${formatRunnerEvent(event)}\n`),
  });
  void runner.start();
  return {
    drain: () => runner.drain(),
    stopNow: () => runner.stopNow(),
    close: () => {
      gateway.intake.runners.revoke(credential.id);
    },
  };
}
