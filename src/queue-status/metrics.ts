/**
 * The gateway's Prometheus metrics (prom-client, text format), what organizers scale runners on
 * (deploy/kubernetes/keda.yaml) and watch. Labels are the kind (cpu/gpu) and the status: never a
 * participant, a submission or a runner.
 *
 *   proctor_queue_length{kind}                  gauge      submissions queued, waiting for a runner
 *   proctor_runs_in_progress{kind}              gauge      submissions a runner has claimed
 *   proctor_runners_online{kind}                gauge      runners that asked for work or hold a claim
 *   proctor_runner_slots_online{kind}           gauge      their slots
 *   proctor_queue_wait_seconds{kind}            histogram  queued -> claimed, per attempt
 *   proctor_run_duration_seconds{kind}          histogram  claimed -> ended, per attempt
 *   proctor_results_total{kind,status}          counter    attempts ended, by status (cancelled included)
 *
 * Each registry is the gateway's own (several gateways in one process never share one). The histograms
 * and the counter follow the attempts' recorded times (attempt-log.ts): every attempt is observed once as
 * it starts and once as it ends, the first scrape observing the whole history, so a gateway's restart
 * continues its counts instead of starting them over.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { AttemptEvent } from "./attempt-log.js";
import type { QueueStatus } from "./queue-status.js";

const WAIT_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400];
const RUN_BUCKETS = [5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400];

export class QueueMetrics {
  readonly #status: QueueStatus;
  readonly #registry = new Registry();
  readonly #queued: Gauge<"kind">;
  readonly #running: Gauge<"kind">;
  readonly #runners: Gauge<"kind">;
  readonly #slots: Gauge<"kind">;
  readonly #wait: Histogram<"kind">;
  readonly #run: Histogram<"kind">;
  readonly #results: Counter<"kind" | "status">;

  constructor(status: QueueStatus) {
    this.#status = status;
    const registers = [this.#registry];
    const gauge = (name: string, help: string) =>
      new Gauge({ name, help, labelNames: ["kind"] as const, registers });
    this.#queued = gauge("proctor_queue_length", "Submissions queued, waiting for a runner.");
    this.#running = gauge("proctor_runs_in_progress", "Submissions a runner has claimed and is running.");
    this.#runners = gauge("proctor_runners_online", "Runners that asked for work or hold a claim lately.");
    this.#slots = gauge("proctor_runner_slots_online", "The slots of the runners online.");
    const histogram = (name: string, help: string, buckets: number[]) =>
      new Histogram({ name, help, labelNames: ["kind"] as const, buckets, registers });
    this.#wait = histogram(
      "proctor_queue_wait_seconds",
      "How long attempts waited in the queue before a runner claimed them.",
      WAIT_BUCKETS,
    );
    this.#run = histogram(
      "proctor_run_duration_seconds",
      "How long attempts took from their claim to their result.",
      RUN_BUCKETS,
    );
    this.#results = new Counter({
      name: "proctor_results_total",
      help: "Attempts ended, by status.",
      labelNames: ["kind", "status"] as const,
      registers,
    });
    // The competition's kinds have their histograms' series from the first scrape (rate() needs the zero),
    // set before anything is observed (zero() empties a series).
    for (const kind of status.kinds()) {
      this.#wait.zero({ kind });
      this.#run.zero({ kind });
    }
    status.onEvents((events) => this.#observe(events));
  }

  get contentType(): string {
    return this.#registry.contentType;
  }

  /** The metrics now, in the Prometheus text format. */
  async text(): Promise<string> {
    const counts = this.#status.counts();
    for (const kind of this.#status.kinds(counts)) {
      this.#queued.set({ kind }, counts[kind].queued);
      this.#running.set({ kind }, counts[kind].running);
      const online = this.#status.online(kind);
      this.#runners.set({ kind }, online.runners);
      this.#slots.set({ kind }, online.slots);
    }
    this.#status.sync();
    return this.#registry.metrics();
  }

  #observe(events: AttemptEvent[]): void {
    for (const e of events) {
      const kind = { kind: e.kind };
      if (e.event === "start") {
        if (e.waitMs !== null) this.#wait.observe(kind, e.waitMs / 1000);
        continue;
      }
      if (e.runMs !== null) this.#run.observe(kind, e.runMs / 1000);
      if (e.status !== null) this.#results.inc({ ...kind, status: e.status });
    }
  }
}
