import { Command } from "commander";
import { cancelSubmission } from "../gateway-api/index.js";
import { describeQuota, gatewayCredentials, gatewayOptions, reportGatewayError } from "./submit-command.js";

/** `proctor cancel <id>`: cancels one of your submissions that no runner has started; it does not count. */
export function cancelCommand(): Command {
  return gatewayOptions(
    new Command("cancel")
      .description(
        "cancel one of your submissions that no runner has started yet (it does not count against your limits)",
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
