import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { device, dir, file, imageArchive } from "../submission/test-support/image-tar.js";
import { COMPETITION_YML, download, startHarness, upload, type Harness } from "./test-support/harness.js";

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** The harness's competition, taking participants' own images with a 64 KiB archive cap. */
const IMAGE_YML = `${COMPETITION_YML}submission: { kind: image, image: { max_size: 64k } }\n`;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({}, IMAGE_YML);
});
afterAll(() => h.close());

describe("image submissions", () => {
  it("takes a docker save archive, checked as an image, and serves it to the runner as it came", async () => {
    const archive = gzipSync(await imageArchive());
    const r = await upload(h, h.token("grace"), archive, { filename: "algorithm.tar.gz" });
    expect(r.status, r.text).toBe(202);
    const id = (r.json()["submission"] as { submission_id: string }).submission_id;
    expect(h.dispatches().find((d) => d.submission_id === id)?.submission_sha256).toBe(sha256(archive));
    const fetched = await download(h, id, 1, h.runner);
    expect(fetched.status).toBe(200);
    expect(fetched.bytes).toEqual(archive);
  });

  it("refuses a zip, and an archive refused by the image checks, naming the rule; keeps nothing", async () => {
    const token = h.token("ada");
    const before = await h.storedFiles();
    const zip = await upload(h, token, Buffer.from("PK\x03\x04 not an image"));
    expect(zip.status).toBe(422);
    expect(zip.json()).toMatchObject({ error: "invalid_submission", rule: "not_an_archive" });
    const withDevice = await upload(
      h,
      token,
      await imageArchive({ layers: [[dir("opt/"), device("opt/null")]] }),
    );
    expect(withDevice.status).toBe(422);
    expect(String(withDevice.json()["message"])).toMatch(/^"the uploaded archive", layer /);
    expect(withDevice.json()).toMatchObject({
      error: "invalid_submission",
      rule: "device_file",
      entry: "opt/null",
    });
    expect(await h.storedFiles()).toEqual(before);
  });

  it("checks the image's USER at upload: a user the image lacks is refused (unknown_user), root is taken", async () => {
    const token = h.token("user-checker");
    const before = await h.storedFiles();
    const accounts = [dir("etc/"), file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")];
    const image = (User: string) =>
      imageArchive({
        layers: [accounts],
        config: { config: { Entrypoint: ["/app/run.sh"], User, WorkingDir: "/app" } },
      });
    const missing = await upload(h, token, await image("algorithm"));
    expect(missing.status, missing.text).toBe(422);
    expect(missing.json()).toMatchObject({ error: "invalid_submission", rule: "unknown_user" });
    expect(String(missing.json()["message"])).toMatch(/USER "algorithm" is not in its \/etc\/passwd/);
    expect(await h.storedFiles()).toEqual(before);
    // Root runs as 65534 on the runner (the result notes it): never a reason to refuse the upload.
    for (const user of ["root", ""]) {
      const root = await upload(h, token, await image(user));
      expect(root.status, root.text).toBe(202);
    }
  });

  it("enforces the archive cap of submission.image, not the zip's, while streaming", async () => {
    const big = await imageArchive({
      layers: [[{ header: { name: "blob.bin", type: "file" }, data: Buffer.alloc(100 * 1024, 7) }]],
    });
    const r = await upload(h, h.token("bob"), big);
    expect(r.status).toBe(413);
    expect(r.json()).toMatchObject({ error: "upload_too_large", limit_bytes: 64 * 1024 });
  });

  it("the submit page asks for an image archive, with its cap and how to save and test one", async () => {
    const cookies = new Map<string, string>();
    const request = async (route: string, init: RequestInit = {}) => {
      const headers = new Headers(init.headers);
      headers.set("cookie", [...cookies].map(([k, v]) => `${k}=${v}`).join("; "));
      const response = await fetch(`${h.url}${route}`, { ...init, headers, redirect: "manual" });
      for (const line of response.headers.getSetCookie()) {
        const [name, ...value] = line.split(";")[0]!.split("=");
        cookies.set(name!, value.join("="));
      }
      return response.text();
    };
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await request("/signin"))![1]!;
    await request("/signin", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ _csrf: csrf, token: h.token("page-reader") }).toString(),
    });
    const page = await request("/submit");
    expect(page).toContain("Image archive (docker save) (at most 64.0 KiB)");
    expect(page).toContain('accept=".tar,.gz,.tgz,application/x-tar,application/gzip"');
    expect(page).toContain("make test-submission SUBMISSION=algorithm.tar.gz");
  });
});
