import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CredentialsError, defaultCredentialsPath, resolveCredentials } from "./credentials.js";

let dir: string;
let file: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-credentials-"));
  await mkdir(path.join(dir, "proctor"));
  file = path.join(dir, "proctor", "credentials.json");
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function writeCredentials(content: unknown, mode = 0o600) {
  await writeFile(file, JSON.stringify(content));
  await chmod(file, mode);
}

describe("resolveCredentials", () => {
  it("finds the file under XDG_CONFIG_HOME, else ~/.config", () => {
    expect(defaultCredentialsPath({ XDG_CONFIG_HOME: dir })).toBe(file);
    expect(defaultCredentialsPath({ HOME: "/home/p" })).toBe("/home/p/.config/proctor/credentials.json");
  });

  it("takes flags first, then the environment, then the file", async () => {
    await writeCredentials({ server: "https://gw.example.org/", token: "from-file" });
    const env = { XDG_CONFIG_HOME: dir };
    expect(await resolveCredentials({ env })).toEqual({
      server: "https://gw.example.org",
      token: "from-file",
      tokenSource: "file",
    });
    expect(await resolveCredentials({ env: { ...env, PROCTOR_TOKEN: "from-env" } })).toMatchObject({
      token: "from-env",
      tokenSource: "env",
    });
    expect(
      await resolveCredentials({ env: { ...env, PROCTOR_TOKEN: "from-env" }, token: "from-flag" }),
    ).toMatchObject({ token: "from-flag", tokenSource: "flag" });
  });

  it("never sends the file's token to another server", async () => {
    await writeCredentials({ server: "https://gw.example.org", token: "from-file" });
    await expect(
      resolveCredentials({ env: { XDG_CONFIG_HOME: dir }, server: "https://evil.example.com" }),
    ).rejects.toThrow(/is for https:\/\/gw.example.org, not https:\/\/evil.example.com/);
  });

  it("refuses a credentials file others can read", async () => {
    await writeCredentials({ server: "https://gw.example.org", token: "t" }, 0o644);
    await expect(resolveCredentials({ env: { XDG_CONFIG_HOME: dir } })).rejects.toThrow(/chmod 600/);
  });

  it("says what is missing", async () => {
    await rm(file, { force: true });
    const env = { XDG_CONFIG_HOME: dir };
    await expect(resolveCredentials({ env })).rejects.toThrow(/no gateway given: pass --server/);
    await expect(resolveCredentials({ env, server: "https://gw.example.org" })).rejects.toThrow(
      /no token: pass --token/,
    );
    await expect(resolveCredentials({ env, server: "ftp://x", token: "t" })).rejects.toBeInstanceOf(
      CredentialsError,
    );
  });
});
