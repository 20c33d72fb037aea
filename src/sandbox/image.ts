import { engine, EngineError, onEngine } from "./engine.js";

export interface ResolvedImage {
  /** What the user asked for, e.g. proctor/runtime:cpu-latest. */
  ref: string;
  /** The local image id (sha256 of its config). */
  id: string;
  /** repo@sha256:… when the image came from or went to a registry, else null. */
  digest: string | null;
  /** The image's USER, or null when it runs as root by default. */
  user: string | null;
  hasEntrypoint: boolean;
  sizeBytes: number;
}

/** Looks an image up on the engine; a missing image is the operator's to fix, so say how. */
export async function resolveImage(ref: string): Promise<ResolvedImage> {
  const info = await onEngine(`inspecting image ${ref}`, async () => {
    try {
      return await engine().getImage(ref).inspect();
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) {
        throw new EngineError(
          `image "${ref}" is not on this Docker engine; pull it (make pull / docker pull ${ref}) or build it (make build-offline)`,
        );
      }
      throw error;
    }
  });
  const user = info.Config?.User?.trim() ?? "";
  return {
    ref,
    id: info.Id,
    digest: info.RepoDigests?.[0] ?? null,
    user: user === "" || user === "root" || user === "0" || user.startsWith("0:") ? null : user,
    hasEntrypoint: (info.Config?.Entrypoint?.length ?? 0) > 0,
    sizeBytes: info.Size,
  };
}
