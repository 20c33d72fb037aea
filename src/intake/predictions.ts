/**
 * The predictions each scored attempt left, kept by the gateway so an organizer can re-score them with a
 * fixed metric or ground truth without running the program again (transitions.ts `rescore`). The runner
 * holding the attempt's claim uploads them (a tar of the output folder's predictions) before it reports;
 * a runner that re-scores downloads them with the re-score's claim. They are the program's output, so
 * they are organizer-only: never served to a participant, kept as files of mode 0600 in a folder of mode
 * 0700 beside the uploads (`<data dir>/predictions/<id>.<attempt>.tar`).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, promises as fsp } from "node:fs";
import path from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { isSubmissionId } from "../gateway-api/index.js";
import { formatBytes } from "../units/index.js";
import type { ClaimDesk } from "./claims.js";
import type { IntakeDb, SubmissionRecord } from "./db.js";
import { IntakeError, ResultConflictError, SubmissionNotFoundError } from "./errors.js";
import type { StoredZip } from "./storage.js";

/** The folder under the gateway's data dir, beside `submissions/`. */
export const PREDICTIONS_DIR = "predictions";

/** An upload past the cap (the competition's output limits): cut off, nothing kept. */
export class PredictionsTooLargeError extends IntakeError {
  override name = "PredictionsTooLargeError";
  readonly code = "predictions_too_large";
  constructor(readonly limitBytes: number) {
    super(
      `the predictions are larger than ${formatBytes(limitBytes)}, more than the run's output folder ` +
        `holds (limits.output_size in competition.yml); nothing was kept: report the result without them`,
    );
  }
}

/** A re-score whose predictions are not here (never kept, or the file is gone). */
export class PredictionsMissingError extends IntakeError {
  override name = "PredictionsMissingError";
  readonly code = "no_predictions";
}

/** The predictions files: one per attempt, written whole or not at all. */
export class PredictionFiles {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  /** The file of an attempt's predictions (ids are the intake's own, so no caller picks the path). */
  file(id: string, attempt: number): string {
    if (!isSubmissionId(id) || !Number.isInteger(attempt) || attempt < 1)
      throw new RangeError(`no predictions file for ${JSON.stringify(id)} attempt ${attempt}`);
    return path.join(this.dir, `${id}.${attempt}.tar`);
  }

  /** Writes `data` (at most `maxBytes`, else PredictionsTooLargeError and nothing kept); its sha256. */
  async put(
    id: string,
    attempt: number,
    data: Readable,
    maxBytes: number,
  ): Promise<{ sha256: string; bytes: number }> {
    const final = this.file(id, attempt);
    const partial = `${final}.partial`;
    const hash = createHash("sha256");
    let bytes = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        bytes += chunk.length;
        if (bytes > maxBytes) return callback(new PredictionsTooLargeError(maxBytes));
        hash.update(chunk);
        callback(null, chunk);
      },
    });
    const handle = await fsp.open(partial, "w", 0o600);
    try {
      await pipeline(data, meter, handle.createWriteStream());
      await fsp.rename(partial, final);
    } catch (error) {
      data.destroy();
      await fsp.rm(partial, { force: true });
      throw error;
    }
    return { sha256: hash.digest("hex"), bytes };
  }

  /** Whether an attempt's predictions are here. */
  has(id: string, attempt: number): boolean {
    return existsSync(this.file(id, attempt));
  }

  async open(id: string, attempt: number): Promise<StoredZip | null> {
    const handle = await fsp.open(this.file(id, attempt), "r").catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return null;
      throw error;
    });
    if (!handle) return null;
    const { size } = await handle.stat();
    return { stream: handle.createReadStream(), bytes: size };
  }

  async remove(id: string, attempt: number): Promise<void> {
    await fsp.rm(this.file(id, attempt), { force: true });
  }
}

/**
 * The runners' side: a run's claim uploads its predictions; a re-score's claim downloads the ones it
 * scores. Both only while the claim holds the running attempt (the claim desk's fence).
 */
export class PredictionDesk {
  constructor(
    private readonly o: {
      db: IntakeDb;
      claims: ClaimDesk;
      files: PredictionFiles;
      /** The most a run's predictions can be: its output folder's size cap, and a tar's headers. */
      maxBytes: number;
    },
  ) {}

  get files(): PredictionFiles {
    return this.o.files;
  }

  /** Keeps the predictions of the running attempt `attempt` of a run (not a re-score). */
  async store(
    id: string,
    attempt: unknown,
    claimToken: string | undefined,
    data: Readable,
  ): Promise<{ sha256: string; bytes: number }> {
    const record = this.#record(id);
    const n = this.#held(record, attempt, claimToken, "run");
    const kept = await this.o.files.put(record.id, n, data, this.o.maxBytes);
    if (!this.o.db.recordPredictions(record.id, n, kept, record.claimSha256)) {
      // The claim was lost (or the run cancelled) while they came in: keep nothing of it.
      await this.o.files.remove(record.id, n);
      this.o.claims.check(this.o.db.getSubmission(record.id)!, { attempt: n, claim_token: claimToken });
      throw new ResultConflictError(`attempt ${n} of submission ${record.id} is over: keep nothing`);
    }
    return kept;
  }

  /** The predictions the running re-score `attempt` scores (those of the attempt it re-scores). */
  async open(
    id: string,
    attempt: unknown,
    claimToken: string | undefined,
  ): Promise<StoredZip & { sha256: string }> {
    const record = this.#record(id);
    this.#held(record, attempt, claimToken, "rescore");
    this.o.claims.used(record, claimToken);
    const of = record.attempts.find((a) => a.attempt === record.rescoreOf);
    const opened = of?.predictionsSha256 ? await this.o.files.open(record.id, of.attempt) : null;
    if (!of || !opened) {
      throw new PredictionsMissingError(
        `the predictions of attempt ${record.rescoreOf} of submission ${record.id} are not on the gateway ` +
          `(${this.o.files.file(record.id, record.rescoreOf ?? 1)}): report infrastructure_error; the ` +
          `organizer runs it again with \`proctor admin rerun\``,
      );
    }
    return { ...opened, sha256: of.predictionsSha256! };
  }

  #record(id: string): SubmissionRecord {
    const record = isSubmissionId(id) ? this.o.db.getSubmission(id) : undefined;
    if (!record) throw new SubmissionNotFoundError(id);
    return record;
  }

  /** The attempt number, when `claimToken` holds the running attempt of this job; else why not (409). */
  #held(
    record: SubmissionRecord,
    attempt: unknown,
    claimToken: string | undefined,
    job: SubmissionRecord["job"],
  ): number {
    this.o.claims.check(record, { attempt: Number(attempt), claim_token: claimToken });
    if (record.state !== "running" || String(record.attempt) !== String(attempt) || record.job !== job) {
      throw new ResultConflictError(
        `submission ${record.id} is ${record.state} at attempt ${record.attempt} (${record.job === "run" ? "a run" : "a re-score"}), ` +
          `not running attempt ${JSON.stringify(attempt)} as ${job === "run" ? "a run" : "a re-score"}: ` +
          `send or fetch no predictions`,
      );
    }
    return record.attempt;
  }
}

/** The cap on a run's predictions upload: its output folder's size, and a tar header per file. */
export const maxPredictionsBytes = (limits: { outputBytes: number; outputFiles: number }): number =>
  limits.outputBytes + 1024 * (limits.outputFiles + 2);
