import { Command } from "commander";
import { EXIT_CODES } from "../status/index.js";
import { competitionFrom, CONFIG_OPTION } from "./context.js";
import { UsageError } from "./usage-error.js";

/**
 * `proctor runtime models`: runtime/models.yml's checks and image. `check` fetches and verifies every file
 * (checksum, size, format); `pack` builds the models image from the checked files; `push` pushes it;
 * `ref` prints the image the competition's runs mount (what make pull-models pulls).
 */
export function runtimeModelsCommand(): Command {
  const models = new Command("models").description(
    "the model files of runtime/models.yml: check, pack and push the models image",
  );
  const common = (command: Command) =>
    command
      .option("--file <models.yml>", "the models file", "runtime/models.yml")
      .option("--cache <dir>", "where verified files are kept, by checksum", ".proctor/models");
  const withImage = (command: Command) =>
    common(command)
      .option(
        "--repository <repo>",
        "the runtime image's repository (default: competition.yml runtime.image)",
      )
      .option(...CONFIG_OPTION);

  common(models.command("check"))
    .description(
      "download every file of models.yml and check its sha256, size and format (file: URLs read locally)",
    )
    .action(async (flags: Flags) => {
      await checked(flags);
    });

  withImage(models.command("pack"))
    .description(
      "check, then build the models image <repository>:models-<digest> (FROM scratch, the files only)",
    )
    .action(async (flags: Flags) => {
      await packed(flags);
    });

  withImage(models.command("push"))
    .description(
      "check, pack and push the models image (password from the PROCTOR_REGISTRY_PASSWORD variable)",
    )
    .option("--username <name>", "the registry user (none: push without credentials)")
    .option(
      "--registry <host>",
      "the registry's host (default: the one the repository names, else Docker Hub)",
    )
    .action(async (flags: Flags & { username?: string; registry?: string }) => {
      const made = await packed(flags);
      if (!made) return;
      const password = process.env.PROCTOR_REGISTRY_PASSWORD;
      if (flags.username && !password)
        throw new UsageError("--username needs the password in the PROCTOR_REGISTRY_PASSWORD variable");
      const { pushModels } = await import("../runtime/models-image.js");
      const { registryOf } = await import("../sandbox/index.js");
      const host = flags.registry ?? registryOf(made.ref);
      const auth = flags.username
        ? {
            username: flags.username,
            password: password!,
            ...(host !== "docker.io" && { serveraddress: host }),
          }
        : null;
      await infrastructure(async () => {
        const digest = await pushModels(made.repository, made.manifest, auth);
        process.stdout.write(`pushed ${made.ref} (${digest})\n`);
      });
    });

  models
    .command("ref")
    .description("print the models image competition.yml's runs mount (nothing when runtime.models is unset)")
    .option(...CONFIG_OPTION)
    .action(async (flags: { config: string }) => {
      const competition = await competitionFrom(flags.config);
      if (competition.models) process.stdout.write(`${competition.models.image}\n`);
      else
        process.stderr.write(`${flags.config} names no runtime.models (or it lists none): no models image\n`);
    });
  return models;
}

interface Flags {
  file: string;
  cache: string;
  repository?: string;
  config: string;
}

/** Loads and checks models.yml, printing a line per file; null (exit code set) when it fails. */
async function checked(flags: Flags) {
  const { loadModels } = await import("../runtime/models.js");
  const { checkModels, ModelsCheckError } = await import("../runtime/models-check.js");
  const { YamlConfigError } = await import("../yaml/index.js");
  try {
    const manifest = await loadModels(flags.file);
    for (const warning of manifest.warnings) process.stdout.write(`WARNING ${flags.file}: ${warning}\n`);
    const files = await checkModels(manifest, flags.cache, (line) => process.stdout.write(`${line}\n`));
    process.stdout.write(
      `${flags.file}: ${files.length} file(s), ${manifest.totalBytes} bytes, models digest ${manifest.digest}\n`,
    );
    return { manifest, files };
  } catch (error) {
    if (!(error instanceof YamlConfigError || error instanceof ModelsCheckError))
      return infrastructureFailed(error);
    process.stderr.write(`proctor runtime models: ${error.message}\n`);
    process.exitCode = EXIT_CODES.usageError;
    return null;
  }
}

async function packed(flags: Flags) {
  const done = await checked(flags);
  if (!done) return null;
  if (done.files.length === 0) {
    process.stdout.write(`${flags.file} lists no models: no models image to build\n`);
    return null;
  }
  const repository = flags.repository ?? (await competitionFrom(flags.config)).image.repository;
  const { packModels } = await import("../runtime/models-image.js");
  const { modelsImageRef } = await import("../runtime/models.js");
  return infrastructure(async () => {
    const built = await packModels(done.manifest, done.files, repository);
    process.stdout.write(`built ${built.tag} (${built.sizeBytes} bytes)\n`);
    return { repository, manifest: done.manifest, ref: modelsImageRef(repository, done.manifest.digest) };
  });
}

/** Runs engine or network work: its failure is the infrastructure's (exit 3), said in one line. */
async function infrastructure<T>(work: () => Promise<T>): Promise<T | null> {
  try {
    return await work();
  } catch (error) {
    return infrastructureFailed(error);
  }
}

function infrastructureFailed(error: unknown): null {
  process.stderr.write(`proctor runtime models: ${(error as Error).message}\n`);
  process.exitCode = EXIT_CODES.infrastructureError;
  return null;
}
