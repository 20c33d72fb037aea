import type Docker from "dockerode";
import type { IncomingMessage } from "node:http";
import { engine } from "./engine.js";

export interface ExitWait {
  /** Resolves once the engine has registered the wait (from then on no exit is missed); rejects if refused. */
  registered: Promise<void>;
  /** The container's next exit. */
  exited: Promise<{ StatusCode: number }>;
}

/**
 * Waits for the container's next exit, saying when the engine has registered the wait. A wait only sent
 * before the start may reach the engine after it (requests travel on separate connections), and a program
 * that exits at once would then never be seen to exit. The engine answers the wait's headers as soon as it
 * has registered it (and its body at the exit), so the start waits for those headers.
 */
export function waitForNextExit(container: Docker.Container): ExitWait {
  let registered!: () => void;
  const whenRegistered = new Promise<void>((resolve) => (registered = resolve));
  const exited = new Promise<{ StatusCode: number }>((resolve, reject) => {
    engine().modem.dial(
      {
        path: `/containers/${container.id}/wait?`,
        method: "POST",
        options: { condition: "next-exit" },
        isStream: true,
        statusCodes: { 200: true, 400: "bad parameter", 404: "no such container", 500: "server error" },
      },
      (error, result) => {
        if (error) return reject(error);
        const response = result as IncomingMessage;
        registered();
        const body: Buffer[] = [];
        response.on("data", (chunk: Buffer) => body.push(chunk));
        response.on("error", reject);
        response.on("end", () => {
          try {
            resolve(JSON.parse(Buffer.concat(body).toString("utf8")) as { StatusCode: number });
          } catch (parse) {
            reject(parse instanceof Error ? parse : new Error(String(parse)));
          }
        });
      },
    );
  });
  // A wait the engine refused never registers: its refusal fails the registration too.
  return { registered: Promise.race([whenRegistered, exited.then(() => undefined)]), exited };
}
