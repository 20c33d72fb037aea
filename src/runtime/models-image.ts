/**
 * The models image: the verified files of models.yml and nothing else (FROM scratch), at
 * /code_execution/models/<model>/<path>, tagged `<runtime repository>:models-<digest>`. Runs never start
 * it: sandbox/models-volume.ts copies its folder into an engine volume once per digest.
 */
import { chmod, copyFile, link, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { CONTAINER } from "../contract/index.js";
import {
  buildImage,
  MODELS_LABEL,
  pushImage,
  type BuiltImage,
  type ProgressLine,
  type RegistryAuth,
} from "../sandbox/index.js";
import type { CheckedFile } from "./models-check.js";
import { modelsImageRef, type ModelsManifest } from "./models.js";

/** Builds the models image from checked files (checkModels' answer); throws when models.yml lists none. */
export async function packModels(
  manifest: ModelsManifest,
  checked: readonly CheckedFile[],
  repository: string,
  onLine?: ProgressLine,
): Promise<BuiltImage> {
  if (checked.length === 0)
    throw new Error(`${manifest.file} lists no model files: there is nothing to pack`);
  const context = await mkdtemp(path.join(os.tmpdir(), "proctor-models-"));
  try {
    const files = ["Dockerfile"];
    for (const { file, cached } of checked) {
      const target = path.join(context, "models", file.target);
      await mkdir(path.dirname(target), { recursive: true });
      // A hard link where the cache shares the filesystem: no copy of the weights for the build context.
      await link(cached, target).catch(() => copyFile(cached, target));
      // Readable by the sandbox's unprivileged user; COPY keeps the mode.
      await chmod(target, 0o644);
      files.push(path.posix.join("models", file.target));
    }
    await chmodFolders(path.join(context, "models"));
    await writeFile(path.join(context, "Dockerfile"), `FROM scratch\nCOPY models/ ${CONTAINER.models}/\n`);
    return await buildImage(
      {
        context,
        files,
        dockerfile: "Dockerfile",
        tag: modelsImageRef(repository, manifest.digest),
        labels: { [MODELS_LABEL]: manifest.digest },
      },
      onLine,
    );
  } finally {
    await rm(context, { recursive: true, force: true });
  }
}

async function chmodFolders(folder: string): Promise<void> {
  await chmod(folder, 0o755);
  for (const entry of await readdir(folder, { withFileTypes: true }))
    if (entry.isDirectory()) await chmodFolders(path.join(folder, entry.name));
}

/** Pushes the packed models image; the registry's digest. */
export function pushModels(
  repository: string,
  manifest: ModelsManifest,
  auth: RegistryAuth | null,
  onLine?: ProgressLine,
): Promise<string> {
  return pushImage(modelsImageRef(repository, manifest.digest), auth, onLine);
}
