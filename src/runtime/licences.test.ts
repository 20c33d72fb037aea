import { describe, expect, it } from "vitest";
import {
  condaLicence,
  debianLicence,
  debianToSpdx,
  isDenied,
  licenceReport,
  licenceReportMarkdown,
  pythonLicence,
} from "./licences.js";

describe("debianToSpdx", () => {
  it.each([
    ["Expat", "MIT"],
    ["BSD-3-clause", "BSD-3-Clause"],
    ["BSD-3-clause-Cambridge", "BSD-3-Clause"],
    ["GPL-2+", "GPL-2.0-or-later"],
    ["GPL-2", "GPL-2.0-only"],
    ["LGPL-2.1+", "LGPL-2.1-or-later"],
    ["GPL-2+ or Artistic", "GPL-2.0-or-later OR Artistic-1.0-Perl"],
    ["GPL-3+ with GCC-Runtime-Library exception", "GPL-3.0-or-later"],
    ["Apache-2.0", "Apache-2.0"],
    ["PSF-2", "PSF-2.0"],
  ])("%s -> %s", (name, spdx) => {
    expect(debianToSpdx(name)).toBe(spdx);
  });

  it("gives null for what is not a licence name", () => {
    expect(debianToSpdx("ad-hoc")).toBeNull();
    expect(debianToSpdx("The main library is licensed under GNU Lesser")).toBeNull();
  });
});

describe("debianLicence", () => {
  it("takes the Files: * paragraph's licence, else every License: field, else the common licences named", () => {
    expect(debianLicence({ main: "BSD-3-clause", all: ["BSD-3-clause", "GPL-2+"] }).spdx).toBe(
      "BSD-3-Clause",
    );
    expect(debianLicence({ main: null, all: ["GPL-2+", "Expat"] }).spdx).toBe("(GPL-2.0-or-later) AND (MIT)");
    const glibc = debianLicence({ main: null, all: [], refs: ["GPL-2", "LGPL-2.1"], later: true });
    expect(glibc).toEqual({
      declared: "/usr/share/common-licenses: GPL-2, LGPL-2.1",
      spdx: "GPL-2.0-or-later AND LGPL-2.1-or-later",
    });
    // "GPL" alone only where no versioned GPL is named.
    expect(debianLicence({ main: null, all: [], refs: ["GPL", "GPL-3"], later: false }).spdx).toBe(
      "GPL-3.0-only",
    );
  });

  it("is unknown without a copyright file, or with one that names nothing it can map", () => {
    expect(debianLicence(undefined)).toEqual({ declared: null, spdx: null });
    expect(debianLicence({ main: null, all: ["ad-hoc"], refs: [] })).toEqual({
      declared: "ad-hoc",
      spdx: null,
    });
  });
});

describe("pythonLicence and condaLicence", () => {
  it("prefers License-Expression, then a License that is a name, then an unambiguous classifier", () => {
    expect(pythonLicence({ license_expression: "MIT OR Apache-2.0", license: "BSD" }).spdx).toBe(
      "MIT OR Apache-2.0",
    );
    expect(pythonLicence({ license: "BSD-3-Clause" }).spdx).toBe("BSD-3-Clause");
    expect(pythonLicence({ license: "new BSD License" }).spdx).toBe("BSD-3-Clause");
    expect(
      pythonLicence({
        license: "Copyright (c) 2001 …\nall rights",
        classifiers: ["License :: OSI Approved :: MIT License"],
      }).spdx,
    ).toBe("MIT");
    // "BSD License" does not say which BSD: unknown, with what was declared.
    expect(
      pythonLicence({ license: "BSD", classifiers: ["License :: OSI Approved :: BSD License"] }),
    ).toEqual({
      declared: "BSD",
      spdx: null,
    });
  });

  it("reads conda-forge's SPDX license field, and Debian-style names", () => {
    expect(condaLicence("BSD-3-Clause").spdx).toBe("BSD-3-Clause");
    expect(condaLicence("GPL-2+").spdx).toBe("GPL-2.0-or-later");
    expect(condaLicence(null)).toEqual({ declared: null, spdx: null });
  });
});

describe("the licence report", () => {
  const deny = ["AGPL-3.0-only", "AGPL-3.0-or-later"];

  it("denies an expression only when every way to meet it is denied", () => {
    expect(isDenied("AGPL-3.0-only", deny)).toBe(true);
    expect(isDenied("AGPL-3.0-only OR MIT", deny)).toBe(false);
    expect(isDenied("AGPL-3.0-or-later AND MIT", deny)).toBe(true);
    expect(isDenied("MIT", deny)).toBe(false);
  });

  it("flags denied and unknown licences; unknown fails only under `unknown: fail`", () => {
    const packages = [
      { kind: "pypi", name: "ok", version: "1", licence: { spdx: "MIT", declared: "MIT" } },
      {
        kind: "pypi",
        name: "copyleft-server",
        version: "2",
        licence: { spdx: "AGPL-3.0-only", declared: "AGPL" },
      },
      { kind: "deb", name: "mystery", version: "3", licence: { spdx: null, declared: "ad-hoc" } },
    ];
    const warn = licenceReport(packages, { deny, unknown: "warn" });
    expect(warn.denied.map((r) => r.name)).toEqual(["copyleft-server"]);
    expect(warn.unknown.map((r) => r.name)).toEqual(["mystery"]);
    expect(warn.failed).toBe(true);
    const onlyUnknown = packages.filter((p) => p.name !== "copyleft-server");
    expect(licenceReport(onlyUnknown, { deny, unknown: "warn" }).failed).toBe(false);
    expect(licenceReport(onlyUnknown, { deny, unknown: "fail" }).failed).toBe(true);
  });

  it("writes Markdown with the flagged packages first and every cell escaped", () => {
    const report = licenceReport(
      [
        { kind: "pypi", name: "evil|<b>x</b>", version: "1", licence: { spdx: null, declared: "`rm -rf`|" } },
        { kind: "pypi", name: "fine", version: "1", licence: { spdx: "MIT", declared: "MIT" } },
      ],
      { deny, unknown: "warn" },
    );
    const md = licenceReportMarkdown(report, "Licences of x", { deny, unknown: "warn" });
    expect(md).toContain("2 packages: 1 with an allowed SPDX licence, 1 unknown, 0 denied");
    expect(md.indexOf("**Unknown**")).toBeLessThan(md.indexOf("All packages"));
    expect(md).toContain("evil\\|\\<b\\>x\\</b\\>");
    expect(md).not.toContain("<b>");
    expect(md).toContain("\\`rm -rf\\`\\|");
  });
});
