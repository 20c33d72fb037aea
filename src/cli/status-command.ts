import { Command } from "commander";
import { describeQueuePlace, getSubmission, listSubmissions, type PhaseView } from "../gateway-api/index.js";
import { printable } from "../logs/printable.js";
import { formatDuration } from "../units/index.js";
import { exitCodeFor } from "../status/index.js";
import {
  describeQuota,
  describeSubmission,
  gatewayCredentials,
  gatewayOptions,
  reportGatewayError,
  shownScore,
} from "./submit-command.js";

export function statusCommand(): Command {
  return gatewayOptions(
    new Command("status")
      .description(
        "show one of your submissions on the gateway, or all of them with your remaining submissions",
      )
      .argument("[id]", "a submission id (as `proctor submit` printed it); none: list them all"),
  ).action(async (id: string | undefined, flags: { server?: string; token?: string; json: boolean }) => {
    const credentials = await gatewayCredentials(flags);
    try {
      if (id !== undefined) {
        const view = await getSubmission(credentials, id);
        // Where it stands: its place in the queue and the wait, or the runner running it.
        const place = describeQueuePlace(view);
        process.stdout.write(
          flags.json
            ? `${JSON.stringify(view)}\n`
            : `${describeSubmission(view)}\n${place ? `  ${printable(place)}\n` : ""}`,
        );
        if (view.state === "final" && view.status) process.exitCode = exitCodeFor(view.status);
        return;
      }
      const list = await listSubmissions(credentials);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(list)}\n`);
        return;
      }
      const lines = list.submissions.map((s) => {
        const outcome =
          s.state === "final"
            ? `${s.status}${s.public_score === null ? "" : ` ${shownScore(s)}`}`
            : s.state === "queued" && s.queue_position !== null
              ? `queued #${s.queue_position}${s.eta_seconds === null ? "" : `, starts in ~${formatDuration(s.eta_seconds * 1000)}`}`
              : s.state;
        const disqualified = s.disqualified ? `  disqualified: ${printable(s.disqualified)}` : "";
        const phase = s.phase === null ? "" : `  [${s.phase}]`;
        return `${s.submission_id}  ${s.submitted_at}  ${outcome}${phase}${disqualified}`;
      });
      if (lines.length === 0) lines.push(`no submissions yet from ${list.participant}`);
      const phase = list.phase ? `\n${describePhase(list.phase)}` : "";
      process.stdout.write(`${lines.join("\n")}\n${describeQuota(list.quota)}${phase}\n`);
    } catch (error) {
      reportGatewayError(error, flags.json);
    }
  });
}

/** Where the competition stands, for `proctor status`: the current phase (its quota is the one above) and the next. */
export function describePhase(view: PhaseView): string {
  const { current, next } = view;
  const now = current
    ? `phase: ${printable(current.title)}${current.final ? " (final: its entries decide the final ranking)" : " (its entries never count in the final ranking)"}${current.ends_at ? `, until ${current.ends_at}` : ""}`
    : "phase: none open now";
  return next ? `${now}; next: ${printable(next.title)} from ${next.starts_at}, with limits of its own` : now;
}
