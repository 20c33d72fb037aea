import { Command } from "commander";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import {
  IntakeDb,
  Organizer,
  OrganizerError,
  PREDICTIONS_DIR,
  PredictionFiles,
  SubmissionNotFoundError,
  type QueueRow,
} from "../intake/index.js";
import { formatDuration } from "../units/index.js";
import { DATA_DIR_OPTION } from "./serve-command.js";
import { UsageError } from "./usage-error.js";
import { addRescore } from "./admin-rescore.js";
import { addRevealAndExport } from "./admin-reveal.js";

/**
 * `proctor admin`: the organizer's hand on the gateway's queue, on its data dir (safe beside a running
 * `proctor serve`: the records are SQLite, and what is queued again is dispatched by the gateway's sweeper).
 */
async function withOrganizer<T>(dataDir: string, use: (organizer: Organizer) => T | Promise<T>): Promise<T> {
  await mkdir(path.resolve(dataDir), { recursive: true, mode: 0o700 });
  const db = new IntakeDb(path.join(path.resolve(dataDir), "intake.sqlite"));
  const predictions = new PredictionFiles(path.join(path.resolve(dataDir), PREDICTIONS_DIR));
  try {
    return await use(new Organizer(db, () => new Date(), predictions));
  } catch (error) {
    if (error instanceof OrganizerError || error instanceof SubmissionNotFoundError)
      throw new UsageError(error.message);
    throw error;
  } finally {
    db.close();
  }
}

const print = (json: boolean, value: unknown, text: string) =>
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${text}\n`);

export function describeQueueRow(r: QueueRow): string {
  const outcome =
    r.state === "final" ? `${r.status}${r.public_score === null ? "" : ` ${r.public_score}`}` : r.state;
  const running = r.running_ms === null ? "" : `, running ${formatDuration(r.running_ms)}`;
  const flags = [r.disqualified !== null ? `disqualified: ${r.disqualified}` : "", r.phase ?? ""]
    .filter(Boolean)
    .join("; ");
  // Participant names and notes are the participants': JSON-quote them so no control character reaches
  // the terminal raw.
  return (
    `${r.submission_id}  ${JSON.stringify(r.participant)}  ${r.cpu_or_gpu}  ${outcome}  attempt ${r.attempt}` +
    `  ${formatDuration(r.age_ms)} old${running}${flags ? `  (${flags})` : ""}`
  );
}

export function adminCommand(): Command {
  const command = new Command("admin").description(
    "the organizer's queue on the gateway: list, re-run, cancel, disqualify, re-score",
  );
  command
    .command("queue")
    .description("submissions queued or running, with their states and ages (--all: every submission)")
    .option(...DATA_DIR_OPTION)
    .option("--all", "every submission, newest first", false)
    .option("--json", "print exactly one JSON object", false)
    .action(async (flags: { dataDir: string; all: boolean; json: boolean }) => {
      const rows = await withOrganizer(flags.dataDir, (o) => o.queue({ all: flags.all }));
      const text = rows.length === 0 ? "the queue is empty" : rows.map(describeQueueRow).join("\n");
      print(flags.json, { submissions: rows }, text);
    });
  command
    .command("rerun")
    .description("run a final or cancelled submission again as its next attempt (its result is replaced)")
    .argument("<id>", "the submission id")
    .option(...DATA_DIR_OPTION)
    .action(async (id: string, flags: { dataDir: string }) => {
      const record = await withOrganizer(flags.dataDir, (o) => o.rerun(id));
      process.stdout.write(`${id}: queued again as attempt ${record.attempt}; the gateway dispatches it\n`);
    });
  command
    .command("cancel")
    .description("cancel a queued or running submission (the runner is refused when it asks for it)")
    .argument("<id>", "the submission id")
    .option(...DATA_DIR_OPTION)
    .action(async (id: string, flags: { dataDir: string }) => {
      await withOrganizer(flags.dataDir, (o) => o.cancel(id));
      process.stdout.write(`${id}: cancelled\n`);
    });
  command
    .command("disqualify")
    .description("take a submission (or with --participant, a participant) off the leaderboards")
    .argument("<id-or-participant>", "a submission id, or a participant's name with --participant")
    .requiredOption("--reason <text>", "why (shown to the participant)")
    .option("--participant", "disqualify the participant: all their entries, and refuse their uploads", false)
    .option(...DATA_DIR_OPTION)
    .action(async (target: string, flags: { dataDir: string; reason: string; participant: boolean }) => {
      await withOrganizer(flags.dataDir, (o) =>
        flags.participant
          ? o.disqualifyParticipant(target, flags.reason)
          : o.disqualify(target, flags.reason),
      );
      process.stdout.write(`${JSON.stringify(target)}: disqualified (${flags.reason})\n`);
    });
  addRescore(command, withOrganizer);
  addRevealAndExport(command);
  return command;
}
