import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engine, EngineError } from "./engine.js";
import {
  ensureImage,
  explainPullFailure,
  registryOf,
  repositoryOf,
  resolveImage,
  runsAsRoot,
} from "./image.js";
import { buildImage, pushImage, tagImage, type RegistryAuth } from "./registry.js";
import { startRegistry, type LocalRegistry } from "./test-support/registry.js";

let registry: LocalRegistry;
let auth: RegistryAuth;
let context: string;
/** Every tag this file creates, removed afterwards (only these). */
const created: string[] = [];
const local = `proctor-test/pull-source:${process.pid}`;
let pushed: { ref: string; digest: string };

async function untag(ref: string): Promise<void> {
  await engine()
    .getImage(ref)
    .remove({ noprune: false })
    .catch(() => undefined);
}

beforeAll(async () => {
  registry = await startRegistry();
  auth = { username: registry.username, password: registry.password, serveraddress: registry.address };
  context = await mkdtemp(path.join(os.tmpdir(), "proctor-pull-"));
  await writeFile(path.join(context, "Dockerfile"), "FROM scratch\nCOPY runtime.txt /runtime.txt\n");
  await writeFile(path.join(context, "runtime.txt"), `runtime ${process.pid} ${Date.now()}\n`);
  created.push(local);
  await buildImage({ context, files: ["Dockerfile", "runtime.txt"], dockerfile: "Dockerfile", tag: local });
  const ref = await tagImage(local, `${registry.address}/proctor/runtime`, "cpu-pull");
  created.push(ref);
  pushed = { ref, digest: await pushImage(ref, auth) };
});

afterAll(async () => {
  for (const ref of created.reverse()) await untag(ref);
  await registry.stop();
  await rm(context, { recursive: true, force: true });
});

describe("ensureImage", () => {
  it("pulls an image the engine lacks, with credentials, reporting progress and the digest that ran", async () => {
    await untag(pushed.ref);
    await expect(resolveImage(pushed.ref)).rejects.toThrow(/is not on this Docker engine/);

    const lines: string[] = [];
    const image = await ensureImage(pushed.ref, { auth, onProgress: (line) => lines.push(line) });
    expect(image.pulled).toBe(true);
    expect(image.digest).toBe(`${registry.address}/proctor/runtime@${pushed.digest}`);
    expect(image.id).toBe((await engine().getImage(local).inspect()).Id);
    expect(lines.join("\n")).toMatch(new RegExp(`Digest: ${pushed.digest}`));
    expect(lines.join("\n")).toMatch(/Status: (Downloaded newer image|Image is up to date)/);
    expect(lines.some((l) => /\[[=> ]*\]/.test(l))).toBe(false); // no progress bars in the log
    expect(JSON.stringify(lines)).not.toContain(registry.password);

    // Now it is local: no pull, no progress, the same digest.
    const again: string[] = [];
    const second = await ensureImage(pushed.ref, { auth, onProgress: (line) => again.push(line) });
    expect(second).toEqual({ ...image, pulled: false });
    expect(again).toEqual([]);
  });

  it("says the registry refused the credentials, naming the image", async () => {
    await untag(pushed.ref);
    const error = await ensureImage(pushed.ref, { auth: { ...auth, password: "wrong" } }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(EngineError);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^pulling image "${pushed.ref}" failed \\(.*\\): ${registry.address} refused the credentials given ` +
          `for it: check the registry username and token \\(they must be able to read ${registry.address}/proctor/runtime\\)$`,
      ),
    );
    expect((error as Error).message).not.toContain("wrong");
  });

  it("says the registry wants credentials when none were given", async () => {
    await untag(pushed.ref);
    await expect(ensureImage(pushed.ref)).rejects.toThrow(
      new RegExp(
        `^pulling image "${pushed.ref}" failed \\(.*\\): ${registry.address} wants credentials to pull it: ` +
          `pass registry credentials from repository secrets, or make the image public$`,
      ),
    );
  });

  it("says there is no such image or tag, and how to fix the name or publish it", async () => {
    const missing = `${registry.address}/proctor/runtime:no-such-tag`;
    await expect(ensureImage(missing, { auth })).rejects.toThrow(
      new RegExp(
        `^pulling image "${missing}" failed \\(.*\\): ${registry.address} has no such image or tag: check the ` +
          `image name and tag \\(runtime\\.image .*competition\\.yml.*\\), and publish the runtime first`,
      ),
    );
  });

  it("says the runner cannot reach the registry when it is down", async () => {
    const down = await startRegistry();
    await down.stop();
    const ref = `${down.address}/proctor/runtime:cpu-latest`;
    await expect(ensureImage(ref, { auth })).rejects.toThrow(
      new RegExp(
        `^pulling image "${ref}" failed \\(.*\\): this runner cannot reach ${down.address}: check its network, ` +
          `DNS and proxy settings, or load the image on the runner beforehand \\(docker pull ${ref}, or docker load`,
      ),
    );
  });

  it("refuses an empty or spaced reference before talking to the engine", async () => {
    for (const bad of ["", "  ", "proctor/runtime:cpu latest"]) {
      await expect(ensureImage(bad)).rejects.toThrow(/image reference .* is not valid; give one like/);
    }
  });
});

describe("image references", () => {
  it("finds the repository as the engine names it in RepoDigests, and the registry host", () => {
    expect(repositoryOf("proctor/runtime:cpu-latest")).toBe("proctor/runtime");
    expect(repositoryOf("docker.io/library/ubuntu:22.04")).toBe("ubuntu");
    expect(repositoryOf("127.0.0.1:5000/p/r:t")).toBe("127.0.0.1:5000/p/r");
    expect(repositoryOf("127.0.0.1:5000/p/r")).toBe("127.0.0.1:5000/p/r");
    expect(repositoryOf(`ghcr.io/o/r@sha256:${"a".repeat(64)}`)).toBe("ghcr.io/o/r");
    expect(registryOf("proctor/runtime:cpu-latest")).toBe("docker.io");
    expect(registryOf("ubuntu")).toBe("docker.io");
    expect(registryOf("ghcr.io/o/r:t")).toBe("ghcr.io");
    expect(registryOf("localhost/r")).toBe("localhost");
    expect(registryOf("127.0.0.1:5000/p/r")).toBe("127.0.0.1:5000");
  });

  it("explains what registries it cannot reach here say (Docker Hub's ambiguous refusal, a timeout, the unknown)", () => {
    const hub =
      "pull access denied for myorg/runtime, repository does not exist or may require 'docker login': denied: requested access to the resource is denied";
    expect(explainPullFailure("myorg/runtime:cpu-latest", hub, false)).toBe(
      `pulling image "myorg/runtime:cpu-latest" failed (${hub}): docker.io has no such image, or it is private ` +
        "and no credentials were given: check the image name and tag (runtime.image and its tags in " +
        "competition.yml, or the action's image input), publish the runtime first (the runtime workflow), or " +
        "pass registry credentials that can read myorg/runtime",
    );
    expect(explainPullFailure("myorg/runtime:cpu-latest", hub, true)).toMatch(
      /or it is private and these credentials cannot read it/,
    );
    expect(
      explainPullFailure(
        "ghcr.io/o/r:cpu-latest",
        'Get "https://ghcr.io/v2/": net/http: TLS handshake timeout',
        false,
      ),
    ).toMatch(/: this runner cannot reach ghcr\.io: check its network/);
    expect(explainPullFailure("ghcr.io/o/r:t", "something new", false)).toBe(
      'pulling image "ghcr.io/o/r:t" failed (something new): the engine could not pull it; try `docker pull ghcr.io/o/r:t` on the runner to see why',
    );
  });
});

describe("runsAsRoot: a trusted image's USER", () => {
  it.each(["", "root", "root:root", "0", "00", "+0", "0:1000", "root:staff"])("%j is root", (user) => {
    expect(runsAsRoot(user)).toBe(true);
  });
  it.each(["1000", "1000:1000", "app", "10", "rooty"])("%j is not", (user) => {
    expect(runsAsRoot(user)).toBe(false);
  });
});
