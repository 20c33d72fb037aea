import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";

export interface LocalRegistry {
  /** host:port on 127.0.0.1 (the engine treats loopback registries as insecure-allowed). */
  address: string;
  username: string;
  password: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Debian's docker-registry on 127.0.0.1 with htpasswd auth: a real registry for push tests. */
export async function startRegistry(): Promise<LocalRegistry> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "proctor-registry-"));
  const port = await freePort();
  const username = "organizer";
  const password = "s3cret-pass";
  const htpasswd = execFileSync("htpasswd", ["-Bbn", username, password], { encoding: "utf8" });
  await writeFile(path.join(dir, "htpasswd"), htpasswd);
  await writeFile(
    path.join(dir, "config.yml"),
    `version: 0.1
log: { level: error }
storage: { filesystem: { rootdirectory: ${dir}/data }, delete: { enabled: true } }
http: { addr: 127.0.0.1:${port} }
auth: { htpasswd: { realm: proctor-test, path: ${dir}/htpasswd } }
`,
  );
  const child: ChildProcess = spawn("/usr/bin/docker-registry", ["serve", path.join(dir, "config.yml")], {
    stdio: "ignore",
  });
  const address = `127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const up = await fetch(`http://${address}/v2/`).then(
      () => true,
      () => false,
    );
    if (up) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    address,
    username,
    password,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
