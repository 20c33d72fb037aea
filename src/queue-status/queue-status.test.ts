/**
 * The queue made visible, on a real gateway (harness: real fastify, real SQLite, a clock the test moves):
 * queued submissions' places in the claim order and their wait, a running one's runner, the public status
 * (/v1/status, counts and durations from the attempts' recorded times), the Prometheus metrics (/metrics,
 * parsed), the metrics token; and never a participant's name or a submission id in what is public.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveCommand } from "../cli/serve-command.js";
import { statusCommand } from "../cli/status-command.js";
import { cli } from "../cli/test-support/cli.js";
import { UsageError } from "../cli/usage-error.js";
import { createGateway } from "../gateway/index.js";
import type { PublicStatusView, SubmissionListView, SubmissionView } from "../gateway-api/index.js";
import {
  GOOD_ZIP,
  SUCCEEDED,
  getJson,
  rawRequest,
  startHarness,
  upload,
  type Harness,
} from "../gateway/test-support/harness.js";

/** A participant name that must never reach anything public. */
const SECRET_NAME = "zelda-queue-watcher";

/** Prometheus text: `name{labels}` -> value, for every sample line. */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

const post = (h: Harness, route: string, body: unknown) =>
  rawRequest(h.url, {
    method: "POST",
    path: route,
    headers: { "content-type": "application/json", authorization: `Bearer ${h.runner}` },
    body: Buffer.from(JSON.stringify(body)),
  });

interface Claimed {
  claim_token: string;
  submission: { submission_id: string; attempt: number };
}

async function claim(h: Harness, kind: "cpu" | "gpu", runner = "box/slot-1"): Promise<Claimed | null> {
  const answer = await post(h, "/v1/runner/claims", { kind, runner });
  expect(answer.status, answer.text).toBe(200);
  return answer.json()["claim"] as Claimed | null;
}

async function report(h: Harness, c: Claimed, status: "succeeded" | "failed") {
  const body =
    status === "succeeded"
      ? { ...SUCCEEDED, claim_token: c.claim_token }
      : { ...SUCCEEDED, status, reason: "exited 1", public_score: null, private_score_sealed: null };
  const answer = await post(h, `/v1/runner/submissions/${c.submission.submission_id}/result`, {
    ...body,
    claim_token: c.claim_token,
  });
  expect(answer.status, answer.text).toBe(200);
}

describe("the queue, visible", () => {
  let h: Harness;
  let token: Record<string, string>;
  const ids: Record<string, string> = {};
  const view = async (name: string) => {
    const answer = await getJson(h, `/v1/submissions/${ids[name]}`, token[name]);
    expect(answer.status, answer.text).toBe(200);
    return answer.json() as unknown as SubmissionView;
  };
  const status = async () => (await getJson(h, "/v1/status")).json() as unknown as PublicStatusView;
  const metrics = async () => {
    const answer = await getJson(h, "/metrics");
    expect(answer.status, answer.text).toBe(200);
    expect(answer.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    return { text: answer.text, samples: parseMetrics(answer.text) };
  };

  beforeAll(async () => {
    // Pull runners only (no dispatch): the queue is theirs.
    h = await startHarness({ dispatch: undefined, github: undefined });
    token = Object.fromEntries(
      ["a", "b", "c", "g1", "g2", SECRET_NAME].map((name) => [name, h.token(name)]),
    ) as Record<string, string>;
    // Interleaved kinds, ten seconds apart: cpu a, gpu g1, cpu b, gpu g2, cpu c.
    for (const [name, kind] of [
      ["a", "cpu"],
      ["g1", "gpu"],
      ["b", "cpu"],
      ["g2", "gpu"],
      [SECRET_NAME, "cpu"],
    ] as const) {
      const answer = await upload(h, token[name], await GOOD_ZIP(), { query: `?cpu_or_gpu=${kind}` });
      expect(answer.status, answer.text).toBe(202);
      const submitted = answer.json()["submission"] as SubmissionView;
      ids[name] = submitted.submission_id;
      // The upload's answer already says where it stands.
      expect(submitted.queue_position).toBeGreaterThan(0);
      h.clock.advance(10_000);
    }
  });
  afterAll(() => h.close());

  it("places each queued submission in its kind's queue; no runner online: no estimate, said plainly", async () => {
    const places = await Promise.all(["a", "b", SECRET_NAME, "g1", "g2"].map(view));
    expect(places.map((v) => [v.state, v.queue_position, v.eta_seconds, v.slots_online])).toEqual([
      ["queued", 1, null, 0],
      ["queued", 2, null, 0],
      ["queued", 3, null, 0],
      ["queued", 1, null, 0],
      ["queued", 2, null, 0],
    ]);
    const list = (await getJson(h, "/v1/submissions", token["b"])).json() as unknown as SubmissionListView;
    expect(list.submissions[0]).toMatchObject({ submission_id: ids["b"], queue_position: 2 });
    expect((await status()).kinds.gpu).toMatchObject({ runners_online: 0, slots_online: 0, queued: 2 });
    // proctor status says the same, in words.
    const one = await cli(statusCommand(), [ids["b"]!, "--server", h.url, "--token", token["b"]!]);
    expect(one.stdout).toContain(
      "\n  #2 in the cpu queue; no cpu runner is online right now, so it waits until one comes\n",
    );
    const all = await cli(statusCommand(), ["--server", h.url, "--token", token["b"]!]);
    expect(all.stdout).toContain(`${ids["b"]}  ${list.submissions[0]!.submitted_at}  queued #2\n`);
  });

  it("claims take them in the places shown; a running one names its runner and start", async () => {
    // t = 50 s: a waited 50 s, b 30 s.
    const first = (await claim(h, "cpu"))!;
    expect(first.submission.submission_id).toBe(ids["a"]);
    expect((await view("b")).queue_position).toBe(1);
    expect((await view(SECRET_NAME)).queue_position).toBe(2);
    expect((await view("g1")).queue_position).toBe(1);
    const running = await view("a");
    expect(running).toMatchObject({
      state: "running",
      queue_position: null,
      eta_seconds: null,
      runner: "runner-1/box/slot-1",
      started_at: h.clock.now.toISOString(),
    });
    // A slot is online (it asked and holds a claim), but no run has ended yet to estimate from.
    expect(await view("b")).toMatchObject({ slots_online: 1, eta_seconds: null });

    h.clock.advance(30_000);
    await report(h, first, "succeeded");
    const scoredAt = h.clock.now.toISOString();
    // One slot, idle now, and runs take 30 s: b starts at once, then the next one 30 s later.
    expect(await view("b")).toMatchObject({ queue_position: 1, slots_online: 1, eta_seconds: 0 });
    expect((await view(SECRET_NAME)).eta_seconds).toBe(30);

    const second = (await claim(h, "cpu"))!;
    expect(second.submission.submission_id).toBe(ids["b"]);
    // b runs on the one slot: the next waits for it (30 s, the typical run).
    expect(await view(SECRET_NAME)).toMatchObject({ queue_position: 1, eta_seconds: 30 });
    h.clock.advance(10_000);
    await report(h, second, "failed");

    const s = await status();
    expect(s.last_scored_at).toBe(scoredAt);
    expect(s.kinds.cpu).toMatchObject({
      runners_online: 1,
      slots_online: 1,
      queued: 1,
      running: 0,
      // a waited 50 s (t 0 -> 50), b 60 s (t 20 -> 80); runs 30 s and 10 s.
      queue_wait: {
        last_hour: { count: 2, median_seconds: 50, p95_seconds: 60 },
        last_day: { count: 2, median_seconds: 50, p95_seconds: 60 },
      },
      run_time: {
        last_hour: { count: 2, median_seconds: 10, p95_seconds: 30 },
        last_day: { count: 2 },
      },
    });
    expect(s.kinds.gpu).toMatchObject({ queued: 2, running: 0, slots_online: 0 });
    expect(s.kinds.gpu!.queue_wait.last_hour).toEqual({ count: 0, median_seconds: null, p95_seconds: null });
  });

  it("/metrics: queue length, runs in progress, results by status and the histograms, counted once", async () => {
    const before = await metrics();
    expect(before.samples.get('proctor_queue_length{kind="cpu"}')).toBe(1);
    expect(before.samples.get('proctor_queue_length{kind="gpu"}')).toBe(2);
    expect(before.samples.get('proctor_runs_in_progress{kind="cpu"}')).toBe(0);
    expect(before.samples.get('proctor_results_total{kind="cpu",status="succeeded"}')).toBe(1);
    expect(before.samples.get('proctor_results_total{kind="cpu",status="failed"}')).toBe(1);
    expect(before.samples.get('proctor_queue_wait_seconds_count{kind="cpu"}')).toBe(2);
    expect(before.samples.get('proctor_queue_wait_seconds_sum{kind="cpu"}')).toBe(110);
    expect(before.samples.get('proctor_queue_wait_seconds_bucket{le="60",kind="cpu"}')).toBe(2);
    expect(before.samples.get('proctor_queue_wait_seconds_bucket{le="30",kind="cpu"}')).toBe(0);
    expect(before.samples.get('proctor_run_duration_seconds_sum{kind="cpu"}')).toBe(40);
    expect(before.samples.get('proctor_runners_online{kind="cpu"}')).toBe(1);
    expect(before.samples.get('proctor_runner_slots_online{kind="gpu"}')).toBe(0);

    // The last cpu one, seen queued by the scrape above, starts and ends before the next scrape.
    const last = (await claim(h, "cpu", "other/slot-2"))!;
    expect(last.submission.submission_id).toBe(ids[SECRET_NAME]);
    const during = await metrics();
    expect(during.samples.get('proctor_runs_in_progress{kind="cpu"}')).toBe(1);
    expect(during.samples.get('proctor_queue_length{kind="cpu"}')).toBe(0);
    expect(during.samples.get('proctor_runners_online{kind="cpu"}')).toBe(2);
    h.clock.advance(5_000);
    await report(h, last, "succeeded");
    const after = await metrics();
    expect(after.samples.get('proctor_results_total{kind="cpu",status="succeeded"}')).toBe(2);
    expect(after.samples.get('proctor_queue_wait_seconds_count{kind="cpu"}')).toBe(3);
    expect(after.samples.get('proctor_run_duration_seconds_count{kind="cpu"}')).toBe(3);
    expect((await metrics()).samples.get('proctor_run_duration_seconds_count{kind="cpu"}')).toBe(3);
  });

  it("exports every metric deploy/kubernetes/keda.yaml scales on", async () => {
    const keda = readFileSync(new URL("../../deploy/kubernetes/keda.yaml", import.meta.url), "utf8");
    const wanted = new Set(keda.match(/\bproctor_[a-z_]+/g));
    expect([...wanted].sort()).toEqual(["proctor_queue_length", "proctor_runs_in_progress"]);
    const types = new Set([...(await metrics()).text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    for (const name of wanted) expect(types).toContain(name);
  });

  it("nothing public names a participant or a submission", async () => {
    const shown = [
      (await getJson(h, "/v1/status")).text,
      (await getJson(h, "/metrics")).text,
      (await getJson(h, "/status")).text,
      (await getJson(h, "/status/live")).text,
    ].join("\n");
    expect(shown).toContain("proctor_queue_length");
    expect(shown).toContain("Runners and the queue");
    expect(shown).not.toContain(SECRET_NAME);
    for (const id of Object.values(ids)) expect(shown).not.toContain(id);
  });

  it("an hour later the last hour is empty, the day is not, and idle runners have gone offline", async () => {
    h.clock.advance(2 * 3600_000);
    const s = await status();
    expect(s.kinds.cpu!.queue_wait.last_hour.count).toBe(0);
    expect(s.kinds.cpu!.queue_wait.last_day.count).toBe(3);
    expect(s.kinds.cpu!.run_time.last_day).toMatchObject({ count: 3, median_seconds: 10 });
    expect(s.kinds.cpu).toMatchObject({ runners_online: 0, slots_online: 0 });
    expect(await view("g1")).toMatchObject({ queue_position: 1, slots_online: 0, eta_seconds: null });
  });
});

describe("--metrics-token", () => {
  it("proctor serve refuses a guessable token, from the flag or PROCTOR_METRICS_TOKEN, before anything starts", async () => {
    const short = await cli(serveCommand(), ["--metrics-token", "hunter2"]);
    expect(short.error).toBeInstanceOf(UsageError);
    expect((short.error as Error).message).toBe(
      "--metrics-token (or PROCTOR_METRICS_TOKEN) must be 16 or more characters without spaces, so that it " +
        "cannot be guessed: make one with `openssl rand -hex 32`",
    );
    process.env["PROCTOR_METRICS_TOKEN"] = "a long token with spaces in it";
    try {
      expect((await cli(serveCommand(), [])).error).toBeInstanceOf(UsageError);
    } finally {
      delete process.env["PROCTOR_METRICS_TOKEN"];
    }
  });

  it("closes /metrics to requests without the bearer token, in constant time; other gateways unaffected", async () => {
    const closed = await startHarness({ metricsToken: "s3cret-metrics-token-0123" });
    // A second gateway in the same process, open: each has its own registry.
    const open = await startHarness();
    try {
      const none = await getJson(closed, "/metrics");
      expect(none.status).toBe(401);
      expect(none.json()).toMatchObject({ error: "unauthorized" });
      expect(none.json()["message"]).toMatch(/no metrics token.*--metrics-token.*Authorization: Bearer/);
      const wrong = await getJson(closed, "/metrics", "s3cret-metrics-token-0124");
      expect(wrong.status).toBe(401);
      expect(wrong.json()["message"]).toMatch(/a wrong metrics token/);
      expect((await getJson(closed, "/metrics", closed.runner)).status).toBe(401);
      const right = await getJson(closed, "/metrics", "s3cret-metrics-token-0123");
      expect(right.status).toBe(200);
      expect(right.text).toContain('proctor_queue_length{kind="cpu"} 0');
      expect((await getJson(open, "/metrics")).status).toBe(200);
      // The token guards /metrics only: the public status stays public.
      expect((await getJson(closed, "/v1/status")).status).toBe(200);
    } finally {
      await closed.close();
      await open.close();
    }
  });
});

describe("a restarted gateway", () => {
  it("continues the counts and histograms from the recorded attempts; a cancel and a lost claim count once", async () => {
    const h = await startHarness({ github: undefined });
    try {
      const ids: string[] = [];
      const tokens: string[] = [];
      for (const name of ["r1", "r2", "r3"]) {
        tokens.push(h.token(name));
        const answer = await upload(h, tokens.at(-1), await GOOD_ZIP(), { query: "?cpu_or_gpu=cpu" });
        ids.push((answer.json()["submission"] as SubmissionView).submission_id);
        h.clock.advance(10_000);
      }
      const first = (await claim(h, "cpu"))!;
      h.clock.advance(20_000);
      await report(h, first, "succeeded");
      await h.gateway.close();

      const again = createGateway({
        competition: h.competition,
        dataDir: h.dataDir,
        clock: h.clock.read,
        sweepIntervalMs: 0,
        rateLimit: false,
      });
      await again.app.listen({ port: 0, host: "127.0.0.1" });
      try {
        const url = again.publicUrl();
        const samples = parseMetrics((await getJson({ url }, "/metrics")).text);
        expect(samples.get('proctor_results_total{kind="cpu",status="succeeded"}')).toBe(1);
        expect(samples.get('proctor_queue_wait_seconds_sum{kind="cpu"}')).toBe(30);
        expect(samples.get('proctor_run_duration_seconds_sum{kind="cpu"}')).toBe(20);
        expect(samples.get('proctor_queue_length{kind="cpu"}')).toBe(2);
        const s = (await getJson({ url }, "/v1/status")).json() as unknown as PublicStatusView;
        expect(s.kinds.cpu!.run_time.last_hour).toEqual({ count: 1, median_seconds: 20, p95_seconds: 20 });
        expect(s.last_scored_at).toBe(h.clock.now.toISOString());
        // Runners online are the gateway's memory: none has asked this one yet.
        expect(s.kinds.cpu).toMatchObject({ runners_online: 0, slots_online: 0 });

        // One leaves the queue without a runner (cancelled): counted once, by its status.
        const cancelled = await rawRequest(url, {
          method: "POST",
          path: `/v1/submissions/${ids[2]}/cancel`,
          headers: { authorization: `Bearer ${tokens[2]}` },
        });
        expect(cancelled.status, cancelled.text).toBe(200);
        for (let i = 0; i < 2; i += 1) {
          const later = parseMetrics((await getJson({ url }, "/metrics")).text);
          expect(later.get('proctor_results_total{kind="cpu",status="cancelled"}')).toBe(1);
          expect(later.get('proctor_queue_length{kind="cpu"}')).toBe(1);
          expect(later.get('proctor_queue_wait_seconds_count{kind="cpu"}')).toBe(1);
        }

        // A runner claims the last one, downloads it and goes silent: its lease runs out, the attempt ends as an
        // infrastructure error (uncounted) and the submission waits again, as its next attempt.
        const lost = await rawRequest(url, {
          method: "POST",
          path: "/v1/runner/claims",
          headers: { "content-type": "application/json", authorization: `Bearer ${h.runner}` },
          body: Buffer.from(JSON.stringify({ kind: "cpu", runner: "doomed/slot-1" })),
        });
        const doomed = lost.json()["claim"] as Claimed;
        expect(doomed.submission.submission_id).toBe(ids[1]);
        // It used the claim (downloaded the zip): losing it costs a try (one never used is only taken back).
        const zip = await rawRequest(url, {
          path: `/v1/runner/submissions/${ids[1]}/zip?attempt=1`,
          headers: { authorization: `Bearer ${h.runner}`, "x-proctor-claim": doomed.claim_token },
        });
        expect(zip.status).toBe(200);
        expect(
          parseMetrics((await getJson({ url }, "/metrics")).text).get('proctor_runs_in_progress{kind="cpu"}'),
        ).toBe(1);
        h.clock.advance(60_000);
        await again.sweeper.tick();
        const swept = parseMetrics((await getJson({ url }, "/metrics")).text);
        expect(swept.get('proctor_results_total{kind="cpu",status="infrastructure_error"}')).toBe(1);
        expect(swept.get('proctor_runs_in_progress{kind="cpu"}')).toBe(0);
        expect(swept.get('proctor_queue_length{kind="cpu"}')).toBe(1);
        expect(swept.get('proctor_run_duration_seconds_count{kind="cpu"}')).toBe(2);
        const requeued = (await getJson({ url }, `/v1/submissions/${ids[1]}`, tokens[1])).json();
        expect(requeued).toMatchObject({ state: "queued", attempt: 2, queue_position: 1 });
      } finally {
        await again.close();
      }
    } finally {
      await h.close();
    }
  });
});

describe("with GitHub dispatch", () => {
  it("a queued submission is said to wait for the Actions runners, not for a runner to come online", async () => {
    const h = await startHarness();
    try {
      const token = h.token("actions-user");
      const answer = await upload(h, token, await GOOD_ZIP());
      const id = (answer.json()["submission"] as SubmissionView).submission_id;
      const view = (await getJson(h, `/v1/submissions/${id}`, token)).json();
      expect(view).toMatchObject({
        queue_position: 1,
        slots_online: 0,
        eta_seconds: null,
        dispatch: { state: "sent" },
      });
      const shown = await cli(statusCommand(), [id, "--server", h.url, "--token", token]);
      expect(shown.stdout).toContain(
        "#1 in the cpu queue; handed to the Actions runners, it starts when a cpu runner takes the job",
      );
    } finally {
      await h.close();
    }
  });
});
