/**
 * Pull runners and the claim protocol, end to end (issue 18, point 6). Everything runs as an organizer runs
 * it: the built CLI (`proctor serve`, `proctor runner`) in child processes on 127.0.0.1, tokens and runner
 * credentials made in the gateway's database as `proctor tokens add` / `proctor runners add` make them, the
 * real engine and the offline runtime image, participants and runners talking over HTTP with proctor's own
 * clients (src/gateway-api).
 *
 *  (1) latency: `proctor serve --local-runners 1`, one idle slot; 20 trivial (scored) submissions one after
 *      another, each from its own participant. Per submission: from the end of its upload to its score in
 *      GET /v1/submissions/:id (polled every POLL_MS), less the container's measured run (duration_ms).
 *      p50, p95 (goal: p50 < 1 s). Baseline, interleaved round by round: a bare `docker run --rm --network
 *      none` of the same image with a trivial command.
 *  (2) drain: `proctor serve --local-runners 0` and two `proctor runner --slots 2`; 200 trivial submissions
 *      from 50 participants uploaded at once. All scored, none lost or duplicated, each counted once, one
 *      leaderboard row per participant (drain-check.ts); the queue waits (claimed − uploaded) p50/p95/max.
 *  (3) simulated: the gateway alone, thousands of queued submissions (uploaded through the real upload
 *      path), hundreds of simulated runners, each with its own credential, that claim, heartbeat once, and
 *      report a result over HTTP without running anything. Sustained claims + reports per second, their
 *      p50/p99, and the gateway's RSS at start, middle and end (goal: ≥ 200/s, p99 < 100 ms, memory flat).
 *
 *   npm run bench runners [-- --only latency|drain|simulated] [--runs 20] [--count 200] [--participants 50]
 *                            [--queued 8000] [--sim-runners 300] [--sim-run-ms 2000] [--profile DIR]
 *
 * Every container the runs made is removed by its claim's label (and the baseline's by BENCH_LABEL), and
 * the gateways' data dirs with the work folder. Timings are printed, never asserted.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import {
  claimNext,
  finalReport,
  GatewayApiError,
  getSubmission,
  heartbeatClaim,
  listSubmissions,
  sendResultReport,
  uploadSubmission,
  type GatewayCredentials,
  type SubmissionView,
} from "../src/gateway-api/index.js";
import { IntakeDb, TokenRegistry } from "../src/intake/index.js";
import { CLAIM_LABEL } from "../src/runner/index.js";
import { removeLabelled } from "../src/sandbox/index.js";
import { writeZip } from "../test/support/zips.js";
import {
  checkDrain,
  drainProblems,
  type BoardRow,
  type ParticipantList,
  type Uploaded,
} from "./drain-check.js";
import {
  mb,
  median,
  ms,
  pairedRatio,
  percentile,
  procCpuMs,
  procStatusBytes,
  run,
  startNode,
  verdict,
  type NodeChild,
} from "./support.js";

const CLI = path.resolve("build/proctor.mjs");
export const RUNNERS_IMAGE = "proctor/runtime:cpu-offline";
/** On the baseline's containers (removed by it at the end, should `--rm` not have). */
const BENCH_LABEL = "org.proctor.bench=runners";
const LISTENING = /listening on (http:\/\/127\.0\.0\.1:\d+)/;
const RUNNER_STARTED = /runner started/;
/**
 * How often the participant looks at their submission in (1): the measurement's resolution. The gateway
 * answers a participant 120 requests a minute: 50 ms leaves 6 s a submission.
 */
const POLL_MS = 50;
/** Uploads per participant in (3): under the gateway's 10 uploads a minute per participant. */
const UPLOADS_PER_PARTICIPANT = 8;
/** Gives up on (2) after this long (a stuck queue is a finding, not a hang). */
const DRAIN_PATIENCE_MS = 30 * 60_000;
/** How long a simulated runner's claim waits on the gateway for a submission (`proctor runner`'s default). */
const CLAIM_WAIT_MS = 20_000;

/** Final or cancelled: nothing more will happen to it. */
const isOver = (s: { state: string }) => s.state === "final" || s.state === "cancelled";

/** Trivial and scored: reads the ids with the standard library, predicts one species for all. */
const TRIVIAL_MAIN = `import csv
with open("/code_execution/data/features.csv", newline="") as f, open("/code_execution/submission/submission.csv", "w", newline="") as out:
    w = csv.writer(out)
    w.writerow(["id", "species"])
    for row in csv.DictReader(f):
        w.writerow([row["id"], "adelie"])
`;

interface Options {
  only: "latency" | "drain" | "simulated" | undefined;
  runs: number;
  count: number;
  participants: number;
  runners: number;
  slots: number;
  queued: number;
  simRunners: number;
  simRunMs: number;
  profile: string | undefined;
}

function options(args: string[]): Options {
  const { values } = parseArgs({
    args,
    options: {
      only: { type: "string" },
      runs: { type: "string", default: "20" },
      count: { type: "string", default: "200" },
      participants: { type: "string", default: "50" },
      runners: { type: "string", default: "2" },
      slots: { type: "string", default: "2" },
      queued: { type: "string", default: "8000" },
      "sim-runners": { type: "string", default: "300" },
      "sim-run-ms": { type: "string", default: "2000" },
      profile: { type: "string" },
    },
  });
  const whole = (flag: string, value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} "${value}" must be a whole number ≥ 1`);
    return n;
  };
  if (values.only !== undefined && !["latency", "drain", "simulated"].includes(values.only))
    throw new Error(`--only "${values.only}" must be latency, drain or simulated`);
  return {
    only: values.only as Options["only"],
    runs: whole("runs", values.runs),
    count: whole("count", values.count),
    participants: whole("participants", values.participants),
    runners: whole("runners", values.runners),
    slots: whole("slots", values.slots),
    queued: whole("queued", values.queued),
    simRunners: whole("sim-runners", values["sim-runners"]),
    simRunMs: whole("sim-run-ms", values["sim-run-ms"]),
    profile: values.profile === undefined ? undefined : path.resolve(values.profile),
  };
}

/** The bench's competition: the repository's example data and metric, no submission limits. */
function competitionYml(root: string): string {
  const at = (p: string) => JSON.stringify(path.join(root, p));
  const data = `data_dir: ${at("data/test_features")}, ground_truth: ${at("data/ground_truth.csv")}`;
  return [
    "name: Runners bench",
    "runtime: { image: proctor/runtime, offline_tag: cpu-offline }",
    "limits: { time: 2m, grace: 5s }",
    `paths: { ${data}, submission_format: ${at("submission_format/format.yml")} }`,
    `runner_paths: { ${data} }`,
    "runners: [cpu]",
    "scoring: { metric: f1_macro, direction: higher, precision: 4, usage_column: usage }",
    "leaderboard: { daily_limit: null, total_limit: null, store: leaderboard.sqlite }",
    "logs: { evaluation: none }",
    "",
  ].join("\n");
}

interface Work {
  dir: string;
  config: string;
  zip: string;
  /** Submissions that may have run containers: removed by their claims' labels at the end. */
  made: Map<string, number>;
}

/** Participant tokens and runner credentials, made in the gateway's database before it starts. */
async function issue(
  dataDir: string,
  participants: string[],
  runners: string[],
): Promise<{ participants: Map<string, string>; runners: string[] }> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const db = new IntakeDb(path.join(dataDir, "intake.sqlite"));
  try {
    const people = new TokenRegistry(db, "participant");
    const machines = new TokenRegistry(db, "runner");
    return {
      participants: new Map(participants.map((p) => [p, people.add(p).token])),
      runners: runners.map((r) => machines.add(r).token),
    };
  } finally {
    db.close();
  }
}

async function startGateway(
  work: Work,
  dataDir: string,
  flags: string[],
  nodeOptions: string[] = [],
): Promise<NodeChild & { url: string }> {
  const gateway = await startNode(
    [
      ...nodeOptions,
      CLI,
      "serve",
      "--config",
      work.config,
      "--data-dir",
      dataDir,
      "--port",
      "0",
      "--log-level",
      "warn",
      ...flags,
    ],
    { ready: LISTENING },
  );
  return { ...gateway, url: gateway.ready[1]! };
}

async function until(what: string, probe: () => boolean, patienceMs = 120_000): Promise<void> {
  const deadline = Date.now() + patienceMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(100);
  }
}

/** Runs `task` over `items`, `concurrency` at a time. */
async function pooled<T, R>(items: T[], concurrency: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await task(items[i]!);
      }
    }),
  );
  return out;
}

// ---- (1) latency ---------------------------------------------------------------------------------

interface Latency {
  overheads: number[];
  durations: number[];
  bare: number[];
  ratio: number;
  problems: string[];
}

async function benchLatency(work: Work, runs: number): Promise<Latency> {
  const dataDir = path.join(work.dir, "latency");
  const names = Array.from({ length: runs + 1 }, (_, i) => `latency-${i}`);
  const { participants } = await issue(dataDir, names, []);
  const gateway = await startGateway(work, dataDir, ["--local-runners", "1", "--image", RUNNERS_IMAGE]);
  try {
    await until("the local runner to start", () => RUNNER_STARTED.test(gateway.output()));
    const problems: string[] = [];
    const submit = async (participant: string) => {
      const who: GatewayCredentials = { server: gateway.url, token: participants.get(participant)! };
      const submitted = await uploadSubmission(who, { zipPath: work.zip });
      const uploaded = performance.now();
      const id = submitted.submission.submission_id;
      work.made.set(id, 1);
      let limited = false;
      for (;;) {
        const view = await getSubmission(who, id).catch(async (error: unknown) => {
          // Past the participant's rate limit (a run slower than POLL_MS allows for): wait it out, uncounted.
          if (!(error instanceof GatewayApiError && error.status === 429)) throw error;
          limited = true;
          await sleep(5000);
          return undefined;
        });
        if (view && isOver(view)) {
          const seen = performance.now();
          work.made.set(id, view.attempt);
          if (view.status !== "succeeded" || view.public_score === null)
            problems.push(`${id}: ${view.state} ${view.status ?? "-"} (${view.reason ?? ""})`);
          const overhead = seen - uploaded - (view.duration_ms ?? 0);
          return { overhead: limited ? null : overhead, duration: view.duration_ms ?? 0 };
        }
        await sleep(POLL_MS);
      }
    };
    const bare = async () => {
      const done = await run("docker", [
        ...["run", "--rm", "--network", "none", "--label", BENCH_LABEL, RUNNERS_IMAGE],
        ...["python3", "-c", "pass"],
      ]);
      if (done.code !== 0) throw new Error(`docker run failed (${done.code}): ${done.stderr}`);
    };
    // Warm up both (the engine's caches, the gateway's first upload and claim).
    await bare();
    await submit(names[runs]!);
    const result: Latency = { overheads: [], durations: [], bare: [], ratio: NaN, problems };
    for (let i = 0; i < runs; i++) {
      const start = performance.now();
      await bare();
      result.bare.push(performance.now() - start);
      const { overhead, duration } = await submit(names[i]!);
      result.durations.push(duration);
      if (overhead === null) {
        result.bare.pop();
        problems.push(`submission ${i + 1} ran into the participant's rate limit: not counted`);
      } else result.overheads.push(overhead);
    }
    result.ratio = pairedRatio(result.overheads, result.bare);
    return result;
  } finally {
    await gateway.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

// ---- (2) drain -----------------------------------------------------------------------------------

interface Drain {
  count: number;
  participants: number;
  wallMs: number;
  waits: number[];
  durations: number[];
  scored: number;
  retried: number;
  /** Why the retried attempts were given up on: each reason (ids and times left out), how many. */
  retriedWhy: Map<string, number>;
  problems: string[];
}

async function benchDrain(work: Work, o: Options): Promise<Drain> {
  const dataDir = path.join(work.dir, "drain");
  const names = Array.from({ length: o.participants }, (_, i) => `drain-${i}`);
  const runnerNames = Array.from({ length: o.runners }, (_, i) => `bench-runner-${i}`);
  const issued = await issue(dataDir, names, runnerNames);
  const gateway = await startGateway(work, dataDir, ["--local-runners", "0", "--sweep-interval", "2s"]);
  const runners: NodeChild[] = [];
  try {
    for (const [i, credential] of issued.runners.entries()) {
      runners.push(
        await startNode(
          [
            ...[CLI, "runner", "--gateway", gateway.url, "--config", work.config],
            ...["--slots", String(o.slots), "--image", RUNNERS_IMAGE, "--name", runnerNames[i]!],
          ],
          { env: { PROCTOR_RUNNER_CREDENTIAL: credential }, ready: RUNNER_STARTED },
        ),
      );
    }
    const who = (participant: string): GatewayCredentials => ({
      server: gateway.url,
      token: issued.participants.get(participant)!,
    });
    const start = performance.now();
    const order = Array.from({ length: o.count }, (_, i) => names[i % names.length]!);
    const uploaded: Uploaded[] = await pooled(order, 8, async (participant) => {
      const submitted = await uploadSubmission(who(participant), { zipPath: work.zip });
      work.made.set(submitted.submission.submission_id, 1);
      return { id: submitted.submission.submission_id, participant };
    });

    const lists = async (): Promise<ParticipantList[]> =>
      pooled(names, 8, async (participant) => {
        const list = await listSubmissions(who(participant));
        return { participant, submissions: list.submissions, usedTotal: list.quota.used_total };
      });
    let last: ParticipantList[];
    for (;;) {
      last = await lists();
      const active = last.flatMap((l) => l.submissions).filter((s) => !isOver(s)).length;
      if (active === 0) break;
      if (performance.now() - start > DRAIN_PATIENCE_MS)
        throw new Error(`the queue did not drain in ${DRAIN_PATIENCE_MS / 60_000} min: ${active} left`);
      await sleep(2000);
    }
    const wallMs = performance.now() - start;
    for (const s of last.flatMap((l) => l.submissions)) work.made.set(s.submission_id, s.attempt);

    const board = (await (await fetch(`${gateway.url}/v1/leaderboard`)).json()) as { rows: BoardRow[] };
    const check = checkDrain(uploaded, last, board.rows);
    const views = last.flatMap((l) => l.submissions) as SubmissionView[];
    const waits = views
      .filter((v) => v.started_at !== null)
      .map((v) => Date.parse(v.started_at!) - Date.parse(v.submitted_at));
    const retriedWhy = new Map<string, number>();
    const db = new IntakeDb(path.join(dataDir, "intake.sqlite"));
    try {
      for (const v of views.filter((view) => view.attempt > 1)) {
        for (const a of db.getSubmission(v.submission_id)?.attempts ?? []) {
          if (a.status !== "infrastructure_error" || a.reason === null) continue;
          const why = a.reason
            .split(";")[0]!
            .replace(/\([^)]*\)|\b[0-9a-f]{12,}\b|\d{4}-\d\d-\d\dT[\d:.]+Z|\d+/g, "…");
          retriedWhy.set(why, (retriedWhy.get(why) ?? 0) + 1);
        }
      }
    } finally {
      db.close();
    }
    const codes = await Promise.all(runners.map((r) => r.stop()));
    const problems = drainProblems(check);
    codes.forEach((code, i) => code !== 0 && problems.push(`runner ${i} exited ${code} after SIGTERM`));
    return {
      count: o.count,
      participants: o.participants,
      wallMs,
      waits,
      durations: views.map((v) => v.duration_ms ?? 0),
      scored: check.scored,
      retried: check.retried,
      retriedWhy,
      problems,
    };
  } finally {
    await Promise.all(runners.map((r) => r.stop()));
    await gateway.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

// ---- (3) simulated runners -----------------------------------------------------------------------

interface Simulated {
  queued: number;
  uploadMs: number;
  runners: number;
  runMs: number;
  /** Claims and reports per second between the 10th and 90th percentile of their completions. */
  sustained: number;
  overall: number;
  claims: number[];
  reports: number[];
  heartbeats: number[];
  /** The gateway's RSS as the runners start, at each quarter of the reports, and its peak. */
  rss: { start: number | null; quarters: (number | null)[]; peak: number | null };
  /**
   * The gateway's CPU time over the drain: per wall second (cores kept busy) and per request answered
   * (what decides its capacity on free cores; less noisy than latencies on a shared machine).
   */
  gatewayCpu: { cores: number; perRequestMs: number } | null;
  errors: Map<string, number>;
  reported: number;
  /** The event-loop delay of this process (the simulated runners' side), ms. */
  clientLag: { p50: number; p99: number };
}

async function benchSimulated(work: Work, o: Options): Promise<Simulated> {
  const dataDir = path.join(work.dir, "simulated");
  const names = Array.from({ length: Math.ceil(o.queued / UPLOADS_PER_PARTICIPANT) }, (_, i) => `sim-${i}`);
  const runnerNames = Array.from({ length: o.simRunners }, (_, i) => `sim-runner-${i}`);
  const issued = await issue(dataDir, names, runnerNames);
  const gateway = await startGateway(
    work,
    dataDir,
    ["--local-runners", "0"],
    o.profile ? ["--cpu-prof", "--cpu-prof-dir", o.profile] : [],
  );
  const pid = gateway.child.pid!;
  try {
    const uploadStart = performance.now();
    const order = Array.from({ length: o.queued }, (_, i) => names[Math.floor(i / UPLOADS_PER_PARTICIPANT)]!);
    await pooled(order, 16, (participant) =>
      uploadSubmission(
        { server: gateway.url, token: issued.participants.get(participant)! },
        { zipPath: work.zip },
      ),
    );
    const uploadMs = performance.now() - uploadStart;

    const latencies = { claim: [] as number[], heartbeat: [] as number[], report: [] as number[] };
    const done: number[] = [];
    const errors = new Map<string, number>();
    const fail = (what: string) => errors.set(what, (errors.get(what) ?? 0) + 1);
    let reported = 0;
    let answered = 0;
    const finished = new AbortController();
    const timed = async <T>(kind: keyof typeof latencies, call: () => Promise<T>): Promise<T | undefined> => {
      const start = performance.now();
      try {
        const answer = await call();
        const end = performance.now();
        answered += 1;
        // A claim answered empty waited out its long poll on an empty queue: no service time to count.
        if (answer === null) return answer;
        latencies[kind].push(end - start);
        if (kind !== "heartbeat") done.push(end);
        return answer;
      } catch (error) {
        if (finished.signal.aborted) return undefined;
        fail(
          `${kind}: ${error instanceof GatewayApiError ? (error.status ?? "no answer") : (error as Error).message}`,
        );
        return undefined;
      }
    };
    const simulate = async (i: number) => {
      const me: GatewayCredentials = { server: gateway.url, token: issued.runners[i]! };
      // Spread the first claims over one run, as runners that started at different times would be.
      await sleep(Math.random() * o.simRunMs);
      while (!finished.signal.aborted) {
        // A long poll, as `proctor runner` claims: the last claims wait until every report is in.
        const claim = await timed("claim", () =>
          claimNext(
            me,
            { kind: "cpu", runner: `sim/${i}`, wait_ms: CLAIM_WAIT_MS },
            { retries: 0, signal: finished.signal },
          ),
        );
        if (finished.signal.aborted) return;
        if (claim === null) continue;
        if (claim === undefined) {
          await sleep(1000);
          continue;
        }
        const id = claim.submission.submission_id;
        const hold = { attempt: claim.submission.attempt, claim_token: claim.claim_token };
        await sleep(o.simRunMs / 2);
        const beat = await timed("heartbeat", () => heartbeatClaim(me, id, hold));
        if (beat?.outcome === "stop") fail(`heartbeat: told to stop (${beat.why})`);
        await sleep(o.simRunMs / 2);
        const report = finalReport({
          attempt: hold.attempt,
          claimToken: hold.claim_token,
          status: "succeeded",
          reason: "simulated",
          publicScore: 0.5,
          sealedPrivateScore: null,
          durationMs: o.simRunMs,
          imageDigest: "sha256:" + "0".repeat(64),
        });
        const sent = await timed("report", () => sendResultReport(me, id, report, { retries: 0 }));
        if (sent?.outcome === "recorded") reported += 1;
        else if (sent) fail(`report: ${sent.outcome}`);
        if (reported === o.queued) finished.abort();
      }
    };

    const rss: Simulated["rss"] = { start: await procStatusBytes(pid, "VmRSS"), quarters: [], peak: null };
    const cpuStart = await procCpuMs(pid);
    // The simulated runners share this process: its own lag is time the gateway is not to blame for.
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    const wallStart = performance.now();
    const sampler = setInterval(() => {
      const quarter = rss.quarters.length;
      if (quarter < 3 && reported >= (o.queued * (quarter + 1)) / 4) {
        rss.quarters.push(null);
        void procStatusBytes(pid, "VmRSS").then((bytes) => (rss.quarters[quarter] = bytes));
      }
    }, 100);
    try {
      await Promise.all(Array.from({ length: o.simRunners }, (_, i) => simulate(i)));
    } finally {
      clearInterval(sampler);
    }
    const wallMs = performance.now() - wallStart;
    lag.disable();
    const cpuEnd = await procCpuMs(pid);
    rss.quarters[3] = await procStatusBytes(pid, "VmRSS");
    rss.peak = await procStatusBytes(pid, "VmHWM");

    done.sort((a, b) => a - b);
    const from = percentile(done, 10);
    const to = percentile(done, 90);
    const inWindow = done.filter((t) => t >= from && t <= to).length;
    return {
      queued: o.queued,
      uploadMs,
      runners: o.simRunners,
      runMs: o.simRunMs,
      sustained: inWindow / ((to - from) / 1000),
      overall: done.length / (wallMs / 1000),
      claims: latencies.claim,
      reports: latencies.report,
      heartbeats: latencies.heartbeat,
      rss,
      gatewayCpu:
        cpuStart === null || cpuEnd === null
          ? null
          : { cores: (cpuEnd - cpuStart) / wallMs, perRequestMs: (cpuEnd - cpuStart) / answered },
      errors,
      reported,
      clientLag: { p50: lag.percentile(50) / 1e6, p99: lag.percentile(99) / 1e6 },
    };
  } finally {
    await gateway.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

// ---- the whole bench -----------------------------------------------------------------------------

const pcts = (values: number[]) =>
  `p50 ${ms(percentile(values, 50))}, p95 ${ms(percentile(values, 95))}, max ${ms(Math.max(...values))}`;

export async function benchRunners(args = process.argv.slice(3)): Promise<void> {
  const o = options(args);
  const dir = await mkdtemp(path.join(os.tmpdir(), "proctor-bench-runners-"));
  const work: Work = {
    dir,
    config: path.join(dir, "competition.yml"),
    zip: path.join(dir, "trivial.zip"),
    made: new Map(),
  };
  try {
    await writeFile(work.config, competitionYml(process.cwd()));
    await writeZip(work.zip, { "main.py": TRIVIAL_MAIN });
    console.log(`runtime image ${RUNNERS_IMAGE}; a trivial submission (stdlib csv, one species: scored)`);

    if (!o.only || o.only === "latency") {
      const r = await benchLatency(work, o.runs);
      const p50 = percentile(r.overheads, 50);
      console.log(
        `\n(1) one idle local runner (proctor serve --local-runners 1): ${o.runs} submissions in turn`,
      );
      console.log(
        `    upload end → score visible, less the run (polled every ${POLL_MS} ms; ${r.overheads.length} counted)`,
      );
      console.log(
        `      p50 ${ms(p50)}, p95 ${ms(percentile(r.overheads, 95))}  (goal p50 < 1 s: ${verdict(p50 < 1000)})`,
      );
      console.log(
        `    the runs themselves (duration_ms)                      p50 ${ms(percentile(r.durations, 50))}`,
      );
      console.log(
        `    baseline: bare docker run --rm --network none … python3 -c pass   ${ms(median(r.bare))}`,
      );
      console.log(`    overhead / baseline (median of each round's pair)      ${r.ratio.toFixed(2)}×`);
      for (const p of r.problems) console.log(`    PROBLEM ${p}`);
    }

    if (!o.only || o.only === "drain") {
      const r = await benchDrain(work, o);
      const scaled = o.count !== 200 || o.participants !== 50 ? " (scaled from the issue's 200 from 50)" : "";
      console.log(
        `\n(2) ${r.count} submissions from ${r.participants} participants${scaled}, uploaded at once; ` +
          `${o.runners} proctor runner × ${o.slots} slots`,
      );
      console.log(
        `    scored ${r.scored}/${r.count} in ${(r.wallMs / 1000).toFixed(0)} s ` +
          `(${((r.count / r.wallMs) * 60_000).toFixed(0)}/min); retried (an attempt given up on): ${r.retried}`,
      );
      console.log(
        `    none lost, duplicated or counted twice; one leaderboard row each: ${verdict(r.problems.length === 0 && r.scored === r.count)}`,
      );
      for (const [why, n] of r.retriedWhy) console.log(`      ${n}× ${why}`);
      for (const p of r.problems) console.log(`    PROBLEM ${p}`);
      console.log(`    queue wait (claimed − uploaded)  ${pcts(r.waits)}`);
      console.log(`    run (duration_ms)                ${pcts(r.durations)}`);
    }

    if (!o.only || o.only === "simulated") {
      const r = await benchSimulated(work, o);
      const both = [...r.claims, ...r.reports];
      const p99 = percentile(both, 99);
      console.log(
        `\n(3) the gateway alone (proctor serve --local-runners 0): ${r.queued} queued submissions ` +
          `(uploaded in ${(r.uploadMs / 1000).toFixed(1)} s, ${((r.queued / r.uploadMs) * 1000).toFixed(0)}/s), ` +
          `${r.runners} simulated runners (claim with a long poll, one heartbeat, report; ${r.runMs} ms a run)`,
      );
      console.log(
        `    claims + reports: ${r.sustained.toFixed(0)}/s sustained (10th–90th percentile of completions), ` +
          `${r.overall.toFixed(0)}/s overall; goal ≥ 200/s: ${verdict(r.sustained >= 200)}`,
      );
      console.log(
        `    latency claims + reports: p50 ${ms(percentile(both, 50))}, p99 ${ms(p99)}  (goal p99 < 100 ms: ${verdict(p99 < 100)})`,
      );
      console.log(
        `      claims p50 ${ms(percentile(r.claims, 50))} p99 ${ms(percentile(r.claims, 99))}; reports p50 ${ms(percentile(r.reports, 50))} p99 ${ms(percentile(r.reports, 99))}; heartbeats p50 ${ms(percentile(r.heartbeats, 50))} p99 ${ms(percentile(r.heartbeats, 99))}`,
      );
      const size = (b: number | null) => (b === null ? "?" : mb(b));
      console.log(
        `    gateway RSS: start ${size(r.rss.start)}, at each quarter of the reports ` +
          `${r.rss.quarters.map(size).join(", ")} (peak ${size(r.rss.peak)})`,
      );
      console.log(
        `    gateway CPU: ${r.gatewayCpu === null ? "?" : `${r.gatewayCpu.cores.toFixed(2)} cores, ${r.gatewayCpu.perRequestMs.toFixed(2)} ms per request answered (claims, heartbeats, reports)`}`,
      );
      console.log(
        `    the simulated runners' own event-loop delay (counted in the latencies): p50 ${ms(r.clientLag.p50)}, p99 ${ms(r.clientLag.p99)}`,
      );
      console.log(`    reported ${r.reported}/${r.queued}` + (r.errors.size === 0 ? ", no errors" : ""));
      for (const [what, n] of r.errors) console.log(`    ERROR ${what}: ${n}`);
      if (o.profile) console.log(`    the gateway's CPU profile: ${o.profile}`);
    }
  } finally {
    await cleanUp(work);
  }
}

/** Removes what the bench made on the engine (by label) and its work folder. */
async function cleanUp(work: Work): Promise<void> {
  for (const [id, attempts] of work.made)
    for (let attempt = 1; attempt <= attempts; attempt++)
      await removeLabelled(CLAIM_LABEL, `${id}.${attempt}`).catch(() => undefined);
  const left = await run("docker", ["ps", "-aq", "--filter", `label=${BENCH_LABEL}`]);
  const ids = left.stdout.split(/\s+/).filter(Boolean);
  if (ids.length > 0) await run("docker", ["rm", "-f", ...ids]);
  await rm(work.dir, { recursive: true, force: true });
}

if (import.meta.url === `file://${process.argv[1]}`) await benchRunners(process.argv.slice(2));
