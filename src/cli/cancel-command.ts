import { Command } from "commander";
import { cancelSubmission } from "../gateway-api/index.js";
import { describeQuota, gatewayCredentials, gatewayOptions, reportGatewayError } from "./submit-command.js";

/**
 * `proctor cancel <id>`: cancels one of your submissions. A queued one does not count; a running one is
 * stopped within seconds and counts against your limits (it used a runner).
 */
export function cancelCommand(): Command {
  return gatewayOptions(
    new Command("cancel")
      .description(
        "cancel one of your submissions: a queued one does not count against your limits; a running one is stopped and counts (it used a runner)",
      )
      .argument("<id>", "the submission id, as `proctor submit` or `proctor status` printed it"),
  ).action(async (id: string, flags: { server?: string; token?: string; json: boolean }) => {
    const credentials = await gatewayCredentials(flags);
    try {
      const answer = await cancelSubmission(credentials, id);
      process.stdout.write(
        flags.json
          ? `${JSON.stringify(answer)}\n`
          : `cancelled ${answer.submission.submission_id}\n${describeQuota(answer.quota)}\n`,
      );
    } catch (error) {
      reportGatewayError(error, flags.json);
    }
  });
}
