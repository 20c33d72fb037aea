import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, inject, it } from "vitest";
import { engine } from "./engine.js";
import { watchVolumeMount } from "./volume-events.js";

const image = inject("baseImage");
const id = randomBytes(4).toString("hex");
const volume = `proctor-test-events-${id}`;
const LABELS = { "org.proctor.test": `events-${id}` };
const made: string[] = [];

afterAll(async () => {
  for (const container of made)
    await engine()
      .getContainer(container)
      .remove({ force: true })
      .catch(() => undefined);
  await engine()
    .getVolume(volume)
    .remove()
    .catch(() => undefined);
});

async function mounting(): Promise<string> {
  const container = await engine().createContainer({
    Image: image,
    Cmd: ["true"],
    Labels: LABELS,
    HostConfig: { NetworkMode: "none", Mounts: [{ Type: "volume", Source: volume, Target: "/v" }] },
  });
  made.push(container.id);
  return container.id;
}

async function ran(container: string): Promise<void> {
  await engine().getContainer(container).start();
  await engine().getContainer(container).wait();
}

const sinceAMinuteAgo = () => Math.floor(Date.now() / 1000) - 60;

describe("watching a volume's mount", () => {
  it("sees the volume mounted for that container, never for another", async () => {
    await engine().createVolume({ Name: volume, Labels: LABELS });
    const [watched, other] = await Promise.all([mounting(), mounting()]);
    const watch = watchVolumeMount(volume, watched, sinceAMinuteAgo());
    let seen = false;
    void watch.seen.then(() => (seen = true));
    try {
      await ran(other);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(seen).toBe(false);
      await ran(watched);
      await watch.seen;
    } finally {
      watch.stop();
    }
  });

  it("replays a mount the engine logged before the watch began", async () => {
    const container = await mounting();
    await ran(container);
    const watch = watchVolumeMount(volume, container, sinceAMinuteAgo());
    try {
      await watch.seen;
    } finally {
      watch.stop();
    }
  });

  it("once stopped, keeps nothing open that would hold the process, answered or not", async () => {
    const open = () => process.getActiveResourcesInfo().filter((r) => r === "PipeWrap").length;
    const before = open();
    const never = watchVolumeMount(`${volume}-never`, "none", sinceAMinuteAgo());
    never.stop();
    const answered = watchVolumeMount(`${volume}-never`, "none", sinceAMinuteAgo());
    await new Promise((resolve) => setTimeout(resolve, 300));
    answered.stop();
    for (let i = 0; i < 50 && open() > before; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(open()).toBe(before);
  });
});
