import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CommanderError } from "commander";
import { describe, expect, it } from "vitest";
import { startFakeGitHub } from "../github/test-support/fake-github.js";
import { COMPETITION_YML } from "../gateway/test-support/harness.js";
import { serveCommand, trustProxyArg } from "./serve-command.js";
import { cli } from "./test-support/cli.js";
import { UsageError } from "./usage-error.js";

/** A folder with competition.yml and the files it names (proctor serve checks them before it starts). */
async function competitionFolder(yml: string): Promise<string> {
  const work = await mkdtemp(path.join(os.tmpdir(), "proctor-serve-"));
  await writeFile(path.join(work, "competition.yml"), yml);
  await mkdir(path.join(work, "data"));
  await writeFile(
    path.join(work, "format.yml"),
    "id_column: id\ncolumns:\n  - { name: id, type: string }\n  - { name: label, type: category, categories: [a, b] }\n",
  );
  await writeFile(path.join(work, "gt.csv"), "id,label,usage\nx,a,Public\ny,b,Private\n");
  return work;
}

/**
 * `proctor serve` in its own process on 127.0.0.1 (any free port), dispatching to a fake GitHub, with the
 * gateway tests' competition.yml: its URL once it listens; stop() sends SIGTERM and gives the exit code.
 */
async function startServe(args: string[]): Promise<{
  url: string;
  stderr: () => string;
  stop: () => Promise<number | null>;
}> {
  const fake = await startFakeGitHub();
  fake.addRepo("org", "comp");
  const work = await competitionFolder(COMPETITION_YML);
  const child = spawn(
    process.execPath,
    [
      ...[
        "--import",
        "tsx",
        path.resolve("src/cli/main.ts"),
        "serve",
        "--port",
        "0",
        "--log-level",
        "silent",
      ],
      ...["--config", path.join(work, "competition.yml"), "--data-dir", path.join(work, "gw")],
      ...["--repo", "org/comp", "--github-api-url", fake.url, ...args],
    ],
    { env: { ...process.env, GITHUB_TOKEN: fake.token } },
  );
  const exited = once(child, "close").then(([code]) => code as number | null);
  let stopped: Promise<number | null> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      child.kill("SIGTERM");
      const code = await exited;
      await fake.close();
      await rm(work, { recursive: true, force: true });
      return code;
    })());
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const listening = /listening on (http:\/\/127\.0\.0\.1:\d+)/;
  while (!listening.test(stderr)) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(stderr);
    }
    await sleep(50);
  }
  return { url: listening.exec(stderr)![1]!, stderr: () => stderr, stop };
}

describe("proctor serve --trust-proxy", () => {
  it("takes the proxies' addresses, CIDRs and named ranges, comma-separated", () => {
    expect(trustProxyArg("127.0.0.1")).toEqual(["127.0.0.1"]);
    expect(trustProxyArg("10.0.0.0/8, 192.168.1.1/32,::1, fd00::/8,loopback")).toEqual([
      "10.0.0.0/8",
      "192.168.1.1/32",
      "::1",
      "fd00::/8",
      "loopback",
    ]);
  });

  it("refuses a hop count, naming the value, why, and the address form to pass instead", () => {
    expect(() => trustProxyArg("1")).toThrow(
      /--trust-proxy "1" is a hop count: .*can't tell the proxy from a client .*pass the proxy's address or CIDR instead, e\.g\. --trust-proxy 127\.0\.0\.1/,
    );
  });

  it.each([
    ["10.0.0.0/33", "10.0.0.0/33"],
    ["10.0.0.0/0", "10.0.0.0/0"],
    ["::1/129", "::1/129"],
    ["10.0.0.0/255.0.0.0", "10.0.0.0/255.0.0.0"],
    ["proxy.example.org", "proxy.example.org"],
    ["127.0.0.1,", ""],
    ["127.0.0.1, 300.1.1.1", "300.1.1.1"],
  ])("refuses %j, naming the entry, the rule and the fix", (value, entry) => {
    expect(() => trustProxyArg(value)).toThrow(
      `--trust-proxy ${JSON.stringify(value)}: ${JSON.stringify(entry)} is not an IP address, a CIDR ` +
        "(address/prefix length: 1 to 32 for IPv4, 1 to 128 for IPv6) or one of loopback, linklocal, uniquelocal; " +
        "pass the proxies' addresses separated by commas, e.g. --trust-proxy 127.0.0.1",
    );
  });

  it("refuses the flag without a value (trust everyone), and says what to pass", async () => {
    const ran = await cli(serveCommand(), ["--repo", "org/comp", "--trust-proxy"]);
    expect(ran.error).toBeInstanceOf(UsageError);
    expect((ran.error as Error).message).toMatch(
      /^--trust-proxy needs the proxies' addresses: trusting every X-Forwarded-For would let a client pick its own address .*e\.g\. --trust-proxy 127\.0\.0\.1/,
    );
  });

  it("refuses a bad value before anything starts", async () => {
    const ran = await cli(serveCommand(), ["--repo", "org/comp", "--trust-proxy", "2"]);
    expect(ran.error).toBeInstanceOf(CommanderError);
    expect(ran.stderr).toContain('--trust-proxy "2" is a hop count');
  });

  it("keys the served gateway's rate limit on the address the trusted proxy appended", async () => {
    const served = await startServe(["--trust-proxy", "127.0.0.1/32,::1"]);
    try {
      // The default budget is 120 requests a minute per address; each request makes up a new left-most
      // address, and the proxy (this test, on 127.0.0.1) appends the client's real one.
      const statuses: number[] = [];
      for (let i = 0; i < 121; i++) {
        const forwarded = { "x-forwarded-for": `6.6.${i >> 8}.${i & 255}, 198.51.100.7` };
        statuses.push((await fetch(`${served.url}/v1/leaderboard`, { headers: forwarded })).status);
      }
      expect(statuses.slice(-2)).toEqual([200, 429]);
      const other = { "x-forwarded-for": "6.6.6.6, 198.51.100.8" };
      expect((await fetch(`${served.url}/v1/leaderboard`, { headers: other })).status).toBe(200);
    } finally {
      await served.stop();
    }
  });
});

describe("proctor serve", () => {
  it("starts on localhost, says how runners reach it, serves, and stops on SIGTERM", async () => {
    const served = await startServe([]);
    try {
      expect(served.stderr()).toMatch(
        /PROCTOR_GATEWAY_URL .*PROCTOR_RUNNER_CREDENTIAL .*proctor runners add/s,
      );
      expect((await fetch(`${served.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${served.url}/v1/leaderboard`)).status).toBe(200);
      expect(await served.stop()).toBe(0);
    } finally {
      await served.stop();
    }
  });

  it("refuses a broken setup before it listens, with proctor check's messages", async () => {
    const work = await competitionFolder(
      COMPETITION_YML.replace("metric: accuracy, direction: higher", "metric: rmse"),
    );
    const token = process.env["GITHUB_TOKEN"];
    process.env["GITHUB_TOKEN"] = "not-used";
    try {
      const ran = await cli(serveCommand(), [
        ...["--config", path.join(work, "competition.yml"), "--data-dir", path.join(work, "gw")],
        ...["--repo", "org/comp", "--port", "0"],
      ]);
      expect(ran.error).toBeInstanceOf(UsageError);
      expect((ran.error as Error).message).toMatch(
        /^the competition's setup is broken, so the gateway does not start:\n[^]*✘ .*competition\.yml: scoring\.metric: rmse cannot score the submission format [^]*proctor check: 1 problem to fix/,
      );
    } finally {
      if (token === undefined) delete process.env["GITHUB_TOKEN"];
      else process.env["GITHUB_TOKEN"] = token;
      await rm(work, { recursive: true, force: true });
    }
  });
});
