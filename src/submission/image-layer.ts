/**
 * One layer of a participant's image archive, streamed through gunzip (when gzipped) and tar-stream: its
 * entries checked one by one (names, links, device files), its uncompressed digest and size measured.
 */
import { createHash, type Hash } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { extract as tarExtract } from "tar-stream";
import { formatBytes } from "../units/index.js";
import type { ImageLayer, Pass } from "./image-archive.js";
import {
  RESAVE,
  checkTarName,
  q,
  refuseArchive,
  refuseLayer,
  symlinkEscapes,
  tooLarge,
} from "./image-rules.js";
import { Meter, mapStreamError, ratioCheck } from "./image-stream.js";

/** Streams one layer through gunzip (when gzipped) and tar-stream, checking every entry. */
export async function scanLayer(
  body: AsyncIterable<Buffer>,
  gzipped: boolean,
  layer: string,
  pass: Pass,
): Promise<Omit<ImageLayer, "path" | "digest">> {
  const { archiveName, limits } = pass;
  pass.layersScanned++;
  if (pass.layersScanned > limits.maxLayers) {
    throw refuseArchive(
      "too_many_layers",
      archiveName,
      layer,
      `the archive holds more than ${limits.maxLayers} layers`,
      "combine RUN steps in the Dockerfile (one RUN with && between commands) and save one image",
    );
  }
  let stored = 0;
  const source = Readable.from(
    (async function* () {
      for await (const chunk of body) {
        stored += chunk.length;
        yield chunk;
      }
    })(),
  );
  const diffHash: Hash = createHash("sha256");
  let counted = 0;
  const meter = new Meter((bytes) => {
    pass.layerBytes += bytes - counted;
    counted = bytes;
    if (bytes > limits.maxLayerBytes) {
      throw refuseLayer(
        "layer_too_large",
        archiveName,
        layer,
        undefined,
        tooLarge("the uncompressed layer", bytes, limits.maxLayerBytes),
        "split the step that makes it, or leave large files out of the image",
      );
    }
    if (pass.layerBytes > limits.maxUncompressedBytes) {
      throw refuseLayer(
        "uncompressed_too_large",
        archiveName,
        layer,
        undefined,
        tooLarge("the image's layers together", pass.layerBytes, limits.maxUncompressedBytes),
        "make the image smaller (a slim base image, no training data or caches in it)",
      );
    }
    if (gzipped && ratioCheck(bytes, stored, limits.maxCompressionRatio)) {
      throw refuseLayer(
        "compression_ratio",
        archiveName,
        layer,
        undefined,
        `the layer expands over ${limits.maxCompressionRatio}× (${formatBytes(stored)} to ${formatBytes(bytes)} so far), which marks a gzip bomb`,
        "leave out files that are mostly one repeated byte",
      );
    }
  }, diffHash);
  const inner = tarExtract();
  const stages: NodeJS.ReadWriteStream[] = gzipped ? [createGunzip(), meter] : [meter];
  const feeding = pipeline([source, ...stages, inner]).catch((error: unknown) => error);
  let entries = 0;
  try {
    for await (const entry of inner) {
      entries++;
      pass.layerEntries++;
      const { name, type, linkname } = entry.header;
      const body = entry as unknown as Readable;
      body.resume();
      if (pass.layerEntries > limits.maxLayerEntries) {
        throw refuseLayer(
          "too_many_layer_entries",
          archiveName,
          layer,
          name,
          `the image's layers hold more than ${limits.maxLayerEntries} entries`,
          "leave caches and datasets out of the image, or bundle many small files into one",
        );
      }
      checkLayerEntry(pass, layer, name, type ?? "unknown", linkname ?? null);
      await new Promise<void>((resolve, reject) => {
        if (body.readableEnded) return resolve();
        body.once("end", resolve);
        body.once("error", reject);
      });
    }
  } catch (error) {
    inner.destroy();
    source.destroy();
    await feeding;
    // Drain what is left of the outer entry, so the archive's stream can go on to report.
    throw mapStreamError(error, pass, layer) ?? error;
  }
  const failed = await feeding;
  if (failed !== undefined) throw mapStreamError(failed, pass, layer) ?? failed;
  return {
    diffId: `sha256:${diffHash.digest("hex")}`,
    compression: gzipped ? "gzip" : "none",
    storedBytes: stored,
    uncompressedBytes: counted,
    entries,
    accounts: {},
  };
}

function checkLayerEntry(
  pass: Pass,
  layer: string,
  name: string,
  type: string,
  linkname: string | null,
): void {
  const { archiveName } = pass;
  const fix = "remove it from the image (a RUN step that deletes it does not: rebuild without it)";
  const checked = checkTarName(name);
  if ("rule" in checked) {
    throw refuseLayer(checked.rule, archiveName, layer, name, checked.what, fix);
  }
  if (type === "character-device" || type === "block-device") {
    throw refuseLayer(
      "device_file",
      archiveName,
      layer,
      name,
      `the layer holds a ${type.replace("-", " ")}, which an image may not carry`,
      `${fix}; the container gets the devices it needs from the engine`,
    );
  }
  if (type === "link") {
    const target = checkTarName(linkname ?? "");
    if ("rule" in target || target.segments.length === 0) {
      throw refuseLayer(
        "link_escape",
        archiveName,
        layer,
        name,
        `the hard link points to ${q(linkname ?? "")}, outside the layer`,
        "make it a copy or a relative symbolic link inside the image",
      );
    }
  } else if (type === "symlink") {
    if (symlinkEscapes(checked.segments, linkname ?? "")) {
      throw refuseLayer(
        "link_escape",
        archiveName,
        layer,
        name,
        `the symbolic link points to ${q(linkname ?? "")}, which climbs above the image's root`,
        "point it at an absolute path inside the image, or fewer ../",
      );
    }
  } else if (type !== "file" && type !== "contiguous-file" && type !== "directory" && type !== "fifo") {
    throw refuseLayer(
      "corrupt_layer",
      archiveName,
      layer,
      name,
      `the layer holds an entry of unknown type (${type})`,
      RESAVE,
    );
  }
}
