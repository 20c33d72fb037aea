/**
 * Image archives made in the test: tars built with tar-stream in Docker's (`manifest.json`) and OCI's
 * (`index.json` + `oci-layout` + `blobs/sha256/…`) layouts, as `docker save` writes them.
 */
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { pack, type Header } from "tar-stream";

export interface TarItem {
  header: Partial<Header> & Pick<Header, "name">;
  data?: Buffer;
}

/** A tar of the items, in order. */
export async function tarBytes(items: TarItem[]): Promise<Buffer> {
  const tar = pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    tar.on("data", (chunk) => chunks.push(chunk as Buffer));
    tar.on("end", () => resolve(Buffer.concat(chunks)));
    tar.on("error", reject);
  });
  for (const item of items) {
    await new Promise<void>((resolve, reject) =>
      tar.entry(item.header, item.data ?? Buffer.alloc(0), (error) => (error ? reject(error) : resolve())),
    );
  }
  tar.finalize();
  return done;
}

export const file = (name: string, data: string | Buffer = "x"): TarItem => ({
  header: { name, type: "file", mode: 0o644 },
  data: Buffer.from(data),
});
export const dir = (name: string): TarItem => ({ header: { name, type: "directory", mode: 0o755 } });
export const symlink = (name: string, linkname: string): TarItem => ({
  header: { name, type: "symlink", linkname },
});
export const hardlink = (name: string, linkname: string): TarItem => ({
  header: { name, type: "link", linkname },
});
export const device = (
  name: string,
  type: "character-device" | "block-device" = "character-device",
): TarItem => ({
  header: { name, type, devmajor: 1, devminor: 3 },
});

export const sha256 = (data: Buffer): string => createHash("sha256").update(data).digest("hex");

export interface ImageSpec {
  /** Each layer's items (made into a tar), or the layer's raw bytes as stored. */
  layers?: (TarItem[] | { stored: Buffer; diffId?: string })[];
  gzipLayers?: boolean;
  layout?: "docker" | "oci" | "both";
  /** Merged into the config JSON. */
  config?: Record<string, unknown>;
  tags?: string[];
  /** Images in manifest.json/index.json: 2 makes a second (copy) entry of a different config. */
  images?: number;
  /** Extra outer entries, appended before the manifests. */
  extra?: TarItem[];
  /** Outer paths to leave out. */
  omit?: string[];
  /** Replaces an outer entry's bytes after the manifests are made. */
  replace?: Record<string, Buffer>;
}

/** An image archive's items, as `docker save` lays them out (blobs, then the manifests). */
export async function imageItems(spec: ImageSpec = {}): Promise<TarItem[]> {
  const layout = spec.layout ?? "both";
  const layerSpecs = spec.layers ?? [[dir("app/"), file("app/run.sh", "#!/bin/sh\necho hi\n")]];
  const layers: { stored: Buffer; diffId: string; digest: string }[] = [];
  for (const layer of layerSpecs) {
    if (Array.isArray(layer)) {
      const raw = await tarBytes(layer);
      const stored = spec.gzipLayers ? gzipSync(raw) : raw;
      layers.push({ stored, diffId: `sha256:${sha256(raw)}`, digest: sha256(stored) });
    } else {
      layers.push({
        stored: layer.stored,
        diffId: layer.diffId ?? `sha256:${sha256(layer.stored)}`,
        digest: sha256(layer.stored),
      });
    }
  }
  const configs: Buffer[] = [];
  for (let i = 0; i < (spec.images ?? 1); i++) {
    configs.push(
      Buffer.from(
        JSON.stringify({
          architecture: "amd64",
          os: "linux",
          config: {
            Entrypoint: ["/app/run.sh"],
            Cmd: ["--fast"],
            User: "1000",
            WorkingDir: "/app",
            Env: ["PATH=/usr/bin:/bin"],
            Labels: { image: String(i) },
          },
          rootfs: { type: "layers", diff_ids: layers.map((layer) => layer.diffId) },
          ...spec.config,
        }),
      ),
    );
  }
  const blob = (digest: string): string => `blobs/sha256/${digest}`;
  const items: TarItem[] = [dir("blobs/"), dir("blobs/sha256/")];
  for (const layer of layers)
    items.push({ header: { name: blob(layer.digest), type: "file" }, data: layer.stored });
  const tags = spec.tags ?? ["algorithm:latest"];
  const manifests: Buffer[] = configs.map((config) => {
    items.push({ header: { name: blob(sha256(config)), type: "file" }, data: config });
    return Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: {
          mediaType: "application/vnd.oci.image.config.v1+json",
          digest: `sha256:${sha256(config)}`,
          size: config.length,
        },
        layers: layers.map((layer) => ({
          mediaType: spec.gzipLayers
            ? "application/vnd.oci.image.layer.v1.tar+gzip"
            : "application/vnd.oci.image.layer.v1.tar",
          digest: `sha256:${layer.digest}`,
          size: layer.stored.length,
        })),
      }),
    );
  });
  for (const manifest of manifests)
    items.push({ header: { name: blob(sha256(manifest)), type: "file" }, data: manifest });
  items.push(...(spec.extra ?? []));
  if (layout !== "docker") {
    items.push(file("oci-layout", '{"imageLayoutVersion":"1.0.0"}'));
    items.push(
      file(
        "index.json",
        JSON.stringify({
          schemaVersion: 2,
          mediaType: "application/vnd.oci.image.index.v1+json",
          manifests: manifests.map((manifest, i) => ({
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            digest: `sha256:${sha256(manifest)}`,
            size: manifest.length,
            annotations: { "io.containerd.image.name": `docker.io/library/${tags[0] ?? "x"}${i ? i : ""}` },
          })),
        }),
      ),
    );
  }
  if (layout !== "oci") {
    items.push(
      file(
        "manifest.json",
        JSON.stringify(
          configs.map((config) => ({
            Config: blob(sha256(config)),
            RepoTags: tags,
            Layers: layers.map((layer) => blob(layer.digest)),
          })),
        ),
      ),
    );
  }
  const omitted = new Set(spec.omit ?? []);
  return items
    .filter((item) => !omitted.has(item.header.name))
    .map((item) =>
      spec.replace?.[item.header.name] ? { ...item, data: spec.replace[item.header.name] } : item,
    );
}

export async function imageArchive(spec: ImageSpec = {}): Promise<Buffer> {
  return tarBytes(await imageItems(spec));
}
