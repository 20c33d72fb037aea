/**
 * A Grand Challenge-style algorithm image for tests, built FROM the offline runtime image but keeping only
 * what a shell script needs (dash, libc, the loader: about 2 MB), so `docker save` of it is small and
 * quick; then saved to an archive and removed from the engine, so loading it is real.
 */
import { createWriteStream } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { engine } from "../engine.js";
import { buildImage } from "../registry.js";

/** Every image the tests build carries it (they remove what they build, by tag). */
export const TEST_IMAGE_LABEL = "org.proctor.test";

/**
 * Reads the CSV files in /input and writes /output/results.json: one record per row, with the row's id and
 * a constant `species`. Says what it does on stderr, as an algorithm's warnings.
 */
export const PREDICT_SH = `#!/bin/sh
set -e
while read -r key uid rest; do if [ "$key" = Uid: ]; then echo "predicting as uid $uid" >&2; fi; done < /proc/self/status
out=/output/results.json
sep=''
printf '[' > "$out"
for f in /input/*.csv; do
  first=1
  while IFS=, read -r id rest; do
    if [ "$first" = 1 ]; then first=0; continue; fi
    printf '%s{"id": "%s", "species": "adelie"}' "$sep" "$id" >> "$out"
    sep=','
  done < "$f"
done
printf ']\\n' >> "$out"
echo done
`;

/** The example competition's predictions (/output/submission.csv), from the features in /input. */
export const PREDICT_CSV_SH = `#!/bin/sh
set -e
out=/output/submission.csv
printf 'id,species\\n' > "$out"
for f in /input/*.csv; do
  first=1
  while IFS=, read -r id rest; do
    if [ "$first" = 1 ]; then first=0; continue; fi
    printf '%s,adelie\\n' "$id" >> "$out"
  done < "$f"
done
`;

export interface AlgorithmArchive {
  /** The archive file (algorithm.tar or algorithm.tar.gz). */
  path: string;
  /** The image id the engine gave it (the config digest). */
  id: string;
  /** The tag it was built and saved with (no longer on the engine). */
  tag: string;
  cleanup(): Promise<void>;
}

/**
 * Builds the algorithm from `baseImage` with `USER user` ("" leaves USER unset: root), the given script as
 * its entrypoint and optionally a VOLUME, saves it, and removes the built image.
 */
export async function saveAlgorithmImage(
  baseImage: string,
  options: {
    user?: string;
    script?: string;
    gzip?: boolean;
    tag?: string;
    volume?: string;
    /** Build on the whole base image (as a participant would FROM our runtime), not on 2 MB of it. */
    wholeBase?: boolean;
  } = {},
): Promise<AlgorithmArchive> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "proctor-algorithm-"));
  const tag = options.tag ?? `proctor-test-algorithm/${path.basename(dir).toLowerCase()}:latest`;
  await writeFile(path.join(dir, "predict.sh"), options.script ?? PREDICT_SH, { mode: 0o755 });
  const user = options.user ?? "1000";
  // A step of its own first: the classic builder would otherwise reuse the layers of a same Dockerfile
  // built at once by another test, and that test's removal of its image prunes them under this build.
  const unique = `LABEL org.proctor.test.build=${path.basename(dir).toLowerCase()}`;
  await writeFile(
    path.join(dir, "Dockerfile"),
    [
      ...(options.wholeBase
        ? [`FROM ${baseImage}`, unique]
        : [
            `FROM ${baseImage} AS base`,
            "FROM scratch",
            unique,
            "COPY --from=base /usr/bin/dash /bin/sh",
            "COPY --from=base /lib/x86_64-linux-gnu/libc.so.6 /lib/x86_64-linux-gnu/libc.so.6",
            "COPY --from=base /lib64/ld-linux-x86-64.so.2 /lib64/ld-linux-x86-64.so.2",
          ]),
      "COPY predict.sh /opt/algorithm/predict.sh",
      "WORKDIR /opt/algorithm",
      ...(options.volume ? [`VOLUME ${options.volume}`] : []),
      ...(user ? [`USER ${user}`] : []),
      'ENTRYPOINT ["/bin/sh", "/opt/algorithm/predict.sh"]',
      "",
    ].join("\n"),
  );
  const built = await buildImage({
    context: dir,
    files: ["Dockerfile", "predict.sh"],
    dockerfile: "Dockerfile",
    tag,
    labels: { [TEST_IMAGE_LABEL]: "algorithm" },
  });
  const archive = path.join(dir, options.gzip ? "algorithm.tar.gz" : "algorithm.tar");
  try {
    const saved = await engine().getImage(tag).get();
    await pipeline([saved, ...(options.gzip ? [createGzip()] : []), createWriteStream(archive)]);
  } finally {
    await engine().getImage(tag).remove();
  }
  return { path: archive, id: built.id, tag, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Whether the engine has an image with this id (a loaded image must be gone after its run). */
export async function engineHasImage(id: string): Promise<boolean> {
  try {
    await engine().getImage(id).inspect();
    return true;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return false;
    throw error;
  }
}

/** Tags of this engine's images in `repository` (what a run's load may leave behind). */
export async function tagsIn(repository: string): Promise<string[]> {
  const images = await engine().listImages({ filters: JSON.stringify({ reference: [`${repository}/*`] }) });
  return images.flatMap((image) => image.RepoTags ?? []);
}
