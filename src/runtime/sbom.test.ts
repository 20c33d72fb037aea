import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { imageSbom, inventoryOf, parseDpkgStatus } from "./sbom.js";
import { offlineImage } from "./test-support/offline-image.js";

const exec = promisify(execFile);
const policy = { deny: ["AGPL-3.0-only"], unknown: "warn" as const };

/** Runs a command in the image (no network, removed after), as the checks the SBOM must agree with. */
async function inImage(image: string, entrypoint: string, ...args: string[]): Promise<string> {
  const { stdout } = await exec(
    "docker",
    ["run", "--rm", "--network", "none", "--entrypoint", entrypoint, image, ...args],
    {
      maxBuffer: 16 * 1024 ** 2,
    },
  );
  return stdout;
}

describe("the SBOM of the offline flavour", () => {
  let image: string;
  let sbom: {
    metadata: { component: { type: string; name: string; hashes: { content: string }[] } };
    components: { name: string; version: string; purl: string; licenses?: unknown[] }[];
  };
  let report: Awaited<ReturnType<typeof imageSbom>>["report"];

  beforeAll(async () => {
    image = await offlineImage();
    const made = await imageSbom(image, policy);
    sbom = JSON.parse(made.json) as typeof sbom;
    report = made.report;
  }, 300_000);

  it("is CycloneDX 1.6 about the image itself (its id as the container's hash)", async () => {
    const { stdout: id } = await exec("docker", ["image", "inspect", "--format", "{{.Id}}", image]);
    expect(sbom).toMatchObject({ bomFormat: "CycloneDX", specVersion: "1.6" });
    expect(sbom.metadata.component).toMatchObject({ type: "container", name: image.split(":")[0] });
    expect(sbom.metadata.component.hashes[0]!.content).toBe(id.trim().replace(/^sha256:/, ""));
  });

  it("lists every Debian package dpkg-query -W lists in the image, at its version and architecture", async () => {
    const dpkg = (await inImage(image, "dpkg-query", "-W", "-f", "${Package} ${Version} ${Architecture}\\n"))
      .trim()
      .split("\n")
      .sort();
    const listed = sbom.components
      .filter((c) => c.purl.startsWith("pkg:deb/"))
      .map((c) => `${c.name} ${c.version} ${/[?&]arch=([^&]+)/.exec(c.purl)![1]}`)
      .sort();
    expect(dpkg.length).toBeGreaterThan(100);
    expect(listed).toEqual(dpkg);
  });

  it("lists every Python distribution the image's python3 can import, at its version", async () => {
    const script =
      "import importlib.metadata as m\nfor d in m.distributions(): print(d.metadata['Name'], d.version)";
    const python = [...new Set((await inImage(image, "python3", "-c", script)).trim().split("\n"))].sort();
    const listed = sbom.components
      .filter((c) => c.purl.startsWith("pkg:pypi/"))
      .map((c) => `${c.name} ${c.version}`)
      .sort();
    expect(python).toEqual(expect.arrayContaining(["numpy 1.24.2", "pandas 1.5.3"]));
    expect(listed).toEqual(python);
  });

  it("gives each package a licence row, Python's from its metadata (numpy: BSD-3-Clause)", () => {
    expect(report.rows).toHaveLength(sbom.components.length);
    expect(report.rows.find((r) => r.kind === "pypi" && r.name === "numpy")!.licence.spdx).toBe(
      "BSD-3-Clause",
    );
    expect(report.denied).toEqual([]);
  });
  it("gives Debian packages the licence of the copyright files the offline base keeps", () => {
    const deb = (name: string) => report.rows.find((r) => r.kind === "deb" && r.name === name)!.licence.spdx;
    expect(deb("python3-sklearn")).toBe("BSD-3-Clause");
    expect(deb("python3-pandas")).toBe("BSD-3-Clause");
    // glibc's free-form file: the common licences it names, together.
    expect(deb("libc6")).toBe("GPL-2.0-or-later AND LGPL-2.1-or-later");
    // A few free-form files name nothing that maps (python3's): flagged unknown, a small share.
    expect(report.unknown.length).toBeLessThan(report.rows.length / 5);
  });
});

describe("parseDpkgStatus and inventoryOf", () => {
  it("keeps installed packages only, and maps each to its copyright file's licence", () => {
    const status = [
      "Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1:1.2.13\nSource: zlib",
      "Package: gone\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1",
      "Package: adduser\nStatus: install ok installed\nArchitecture: all\nVersion: 3.134",
    ].join("\n\n");
    expect(parseDpkgStatus(status).map((p) => p.name)).toEqual(["adduser", "zlib1g"]);
    const inventory = inventoryOf({
      dpkg_status: status,
      copyright: { zlib1g: { main: "Zlib", all: ["Zlib"] } },
      conda: [
        {
          name: "numpy",
          version: "2.2.6",
          build: "py311h",
          channel: "https://conda.anaconda.org/conda-forge/linux-64",
          license: "BSD-3-Clause",
        },
      ],
      python: [],
    });
    expect(inventory.deb.map((p) => [p.name, p.licence.spdx])).toEqual([
      ["adduser", null],
      ["zlib1g", "Zlib"],
    ]);
    expect(inventory.conda[0]).toMatchObject({ name: "numpy", licence: { spdx: "BSD-3-Clause" } });
  });
});
