import { Command, Option } from "commander";
import { imageRef } from "../config/index.js";
import { competitionFrom, CONFIG_OPTION } from "./context.js";

/** For the Makefile and scripts: the runtime image competition.yml names, so it is written in one place. */
export function imageRefCommand(): Command {
  return new Command("image-ref")
    .description("print the runtime image reference competition.yml names for a flavour")
    .addOption(
      new Option("--flavour <flavour>", "cpu, gpu or offline")
        .choices(["cpu", "gpu", "offline"])
        .default("cpu"),
    )
    .option(...CONFIG_OPTION)
    .action(async (flags: { flavour: "cpu" | "gpu" | "offline"; config: string }) => {
      process.stdout.write(`${imageRef(await competitionFrom(flags.config), flags.flavour)}\n`);
    });
}
