import { describe, expect, inject, it } from "vitest";
import { engine } from "./engine.js";
import { waitForNextExit } from "./wait.js";

const image = inject("baseImage");

describe("waiting for a container's exit", () => {
  it("sees the exit of a program that ends at once, started as soon as the wait is registered", async () => {
    const statuses = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const container = await engine().createContainer({
          Image: image,
          Entrypoint: ["sh", "-c", `exit ${i}`],
          Labels: { "org.proctor.test": "wait" },
          HostConfig: { NetworkMode: "none" },
        });
        try {
          const { registered, exited } = waitForNextExit(container);
          await registered;
          await container.start();
          return (await exited).StatusCode;
        } finally {
          await container.remove({ force: true });
        }
      }),
    );
    expect(statuses).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it("a wait the engine refuses fails its registration too: nothing hangs on it", async () => {
    const { registered, exited } = waitForNextExit(engine().getContainer("proctor-no-such-container"));
    await expect(registered).rejects.toThrow(/no such container/);
    await expect(exited).rejects.toThrow(/no such container/);
  });
});
