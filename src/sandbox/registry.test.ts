import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engine, EngineError } from "./engine.js";
import { buildImage, pullImage, pushImage, tagImage } from "./registry.js";
import { startRegistry, type LocalRegistry } from "./test-support/registry.js";

let registry: LocalRegistry;
let context: string;
const tag = `proctor-test/tiny:${process.pid}`;
/** Every tag this file makes (the registry's included), removed afterwards: only these. */
const created: string[] = [tag];
const tagged = async (repository: string, name: string): Promise<string> => {
  const ref = await tagImage(tag, repository, name);
  created.push(ref);
  return ref;
};

beforeAll(async () => {
  registry = await startRegistry();
  context = await mkdtemp(path.join(os.tmpdir(), "proctor-build-"));
  await writeFile(
    path.join(context, "Dockerfile"),
    "FROM scratch\nCOPY hello.txt /hello.txt\nLABEL org.proctor.test=yes\n",
  );
  await writeFile(path.join(context, "hello.txt"), `hello ${Date.now()}\n`);
  await writeFile(path.join(context, "not-in-context.bin"), "must not be sent");
});
afterAll(async () => {
  await registry.stop();
  await rm(context, { recursive: true, force: true });
  // The build's own tag last: removing the last name removes the image.
  for (const ref of created.reverse())
    await engine()
      .getImage(ref)
      .remove()
      .catch(() => undefined);
});

describe("build and push", () => {
  it("builds from exactly the listed files, with build args and labels, reporting progress", async () => {
    const lines: string[] = [];
    const built = await buildImage(
      {
        context,
        files: ["Dockerfile", "hello.txt"],
        dockerfile: "Dockerfile",
        tag,
        labels: { "org.proctor.flavour": "test" },
      },
      (line) => lines.push(line),
    );
    expect(built.id).toMatch(/^sha256:/);
    expect(built.sizeBytes).toBeGreaterThan(0);
    expect(lines.join("\n")).toMatch(/COPY hello.txt/);
    const info = await engine().getImage(tag).inspect();
    expect(info.Config.Labels).toMatchObject({ "org.proctor.test": "yes", "org.proctor.flavour": "test" });
  });

  it("fails loudly when the build fails inside the stream", async () => {
    await writeFile(path.join(context, "Broken.Dockerfile"), "FROM scratch\nCOPY missing.txt /x\n");
    const error = await buildImage({
      context,
      files: ["Broken.Dockerfile"],
      dockerfile: "Broken.Dockerfile",
      tag: "proctor-test/broken:1",
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineError);
    expect((error as Error).message).toMatch(/building proctor-test\/broken:1 failed: .*missing\.txt/);
  });

  it("pushes with good credentials and returns the registry's digest, which pulls back", async () => {
    const ref = await tagged(`${registry.address}/proctor/runtime`, "cpu-test");
    const digest = await pushImage(ref, {
      username: registry.username,
      password: registry.password,
      serveraddress: registry.address,
    });
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const manifest = await fetch(`http://${registry.address}/v2/proctor/runtime/manifests/cpu-test`, {
      headers: {
        authorization: `Basic ${Buffer.from(`${registry.username}:${registry.password}`).toString("base64")}`,
        accept: "application/vnd.docker.distribution.manifest.v2+json",
      },
    });
    expect(manifest.status).toBe(200);
    expect(manifest.headers.get("docker-content-digest")).toBe(digest);
  });

  it("fails loudly with wrong credentials", async () => {
    const ref = await tagged(`${registry.address}/proctor/runtime`, "wrong-creds");
    const error = await pushImage(ref, {
      username: registry.username,
      password: "wrong",
      serveraddress: registry.address,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineError);
    expect((error as Error).message).toMatch(
      /pushing .* failed: .*(unauthorized|authentication required|no basic auth)/i,
    );
  });

  it("fails loudly when the registry is down", async () => {
    const down = await startRegistry();
    await down.stop();
    const ref = await tagged(`${down.address}/proctor/runtime`, "down");
    const error = await pushImage(ref, { username: "x", password: "y", serveraddress: down.address }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(EngineError);
    expect((error as Error).message).toMatch(/pushing .* failed: .*(connection refused|connect)/i);
  });

  it("reports a pull that can't happen as false, without throwing", async () => {
    expect(await pullImage(`${registry.address}/proctor/none:nope`)).toBe(false);
  });
});
