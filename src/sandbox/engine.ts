import Docker from "dockerode";
import { cutText } from "../units/index.js";

/** The engine failed or could not be reached: never the participant's fault, and worth a retry. */
export class EngineError extends Error {
  readonly status = "infrastructure_error" as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * Engine complaints that are the host's, never an image's: its disk, memory, files or the engine itself,
 * whatever the engine answered (an OCI runtime's failure to create a container is an HTTP 400 too).
 */
export const HOST_FAULT =
  /no space left|disk quota|read-only file system|input\/output error|connection (refused|reset)|context canceled|cannot allocate memory|too many open files/i;

let shared: Docker | undefined;

/** One client per process; DOCKER_HOST and friends are honoured by docker-modem. */
export function engine(): Docker {
  shared ??= new Docker();
  return shared;
}

/** Calls the engine and turns its failures into an EngineError that says what was being done. */
export async function onEngine<T>(what: string, call: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await call();
  } catch (error) {
    if (error instanceof EngineError) throw error;
    throw new EngineError(`Docker engine error while ${what}: ${describeEngineError(error)}`, {
      cause: error,
    });
  } finally {
    if (TRACE) {
      const ended = performance.now();
      // Offsets from this process's start, so the critical path can be read off the trace.
      process.stderr.write(
        `proctor trace: ${what} ${(ended - started).toFixed(1)}ms (${started.toFixed(0)}→${ended.toFixed(0)}ms)\n`,
      );
    }
  }
}

/** PROCTOR_TRACE=1 prints how long each engine call took, to find where a run's time goes. */
const TRACE = process.env.PROCTOR_TRACE === "1";

export function describeEngineError(error: unknown): string {
  const e = error as { code?: string; statusCode?: number; json?: { message?: string }; message?: string };
  if (e?.code === "ENOENT" || e?.code === "ECONNREFUSED" || e?.code === "EACCES") {
    return `cannot reach the engine (${e.code}); is dockerd running and is DOCKER_HOST right? Try \`docker info\`.`;
  }
  // The engine's words may repeat a path or name of a participant's image at any length.
  const message = cutText(e?.json?.message ?? e?.message ?? String(error), MAX_ENGINE_MESSAGE_CHARS);
  return e?.statusCode ? `${message} (HTTP ${e.statusCode})` : message;
}

const MAX_ENGINE_MESSAGE_CHARS = 1000;
