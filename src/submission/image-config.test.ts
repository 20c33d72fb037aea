import { describe, expect, it } from "vitest";
import type { InspectedImage } from "./image-archive.js";
import { checkImageConfig, resolveUser } from "./image-config.js";
import { InvalidImageError } from "./image-rules.js";

const PASSWD = [
  "root:x:0:0:root:/root:/bin/bash",
  "toor:x:0:0:alias of root:/root:/bin/sh",
  "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin",
  "alice:x:1001:1002::/home/alice:/bin/sh",
  "rooty:x:1003:0::/:/bin/sh",
  "odd:x:abc:def::/:/bin/sh",
  "",
].join("\n");
const GROUP = ["root:x:0:alice", "staff:x:50:", "alice:x:1002:", "wheel:x:10:alice,bob"].join("\n");

type Image = Pick<InspectedImage, "archiveName" | "config" | "accounts">;
function image(
  config: Partial<InspectedImage["config"]> = {},
  accounts: InspectedImage["accounts"] = { passwd: PASSWD, group: GROUP },
): Image {
  return {
    archiveName: "algorithm.tar",
    config: {
      entrypoint: ["/bin/sh", "/opt/run.sh"],
      cmd: null,
      user: "",
      workingDir: "/opt",
      env: ["PATH=/usr/bin:/bin"],
      volumes: [],
      ...config,
    },
    accounts,
  };
}
const FOLDERS = { platformFolders: ["/input", "/output"] };

function refusal(run: () => unknown): InvalidImageError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidImageError);
    return error as InvalidImageError;
  }
  throw new Error("expected a refusal");
}

describe("resolveUser: the image's USER as numeric ids, never 0", () => {
  it.each([
    ["", "65534:65534", true],
    ["root", "65534:65534", true],
    ["root:root", "65534:65534", true],
    ["0", "65534:65534", true],
    ["00", "65534:65534", true],
    ["+0", "65534:65534", true],
    ["0:0", "65534:65534", true],
    // A passwd alias of uid 0.
    ["toor", "65534:65534", true],
    // A non-numeric uid in passwd is read as 0, as the engine reads it.
    ["odd", "65534:65534", true],
    // A numeric user without a passwd entry: the engine would give gid 0.
    ["1000", "1000:65534", true],
    ["1000:0", "1000:65534", true],
    ["1000:root", "1000:65534", true],
    ["rooty", "1003:65534", true],
    ["1000:1000", "1000:1000", false],
    ["alice", "1001:1002", false],
    ["1001", "1001:1002", false],
    ["alice:staff", "1001:50", false],
    ["alice:50", "1001:50", false],
    ["daemon", "1:1", false],
  ])("USER %j runs as %s", (user, spec, noted) => {
    const resolved = resolveUser(image({ user }));
    expect(resolved.spec).toBe(spec);
    expect(resolved.note !== undefined).toBe(noted);
    if (noted) expect(resolved.note).toMatch(/ran as \d+:65534|ran as 65534/);
  });

  it.each([
    ["nosuch", /USER "nosuch" is not in its \/etc\/passwd/],
    ["1000:nosuchgroup", /group "nosuchgroup", which is not in its \/etc\/group/],
    ["1000:1000:1000", /is not user or user:group/],
    ["-1", /out of range/],
    ["1000:-5", /group out of range/],
    ["99999999999", /out of range/],
  ])("refuses USER %j before the engine sees it", (user, says) => {
    const error = refusal(() => resolveUser(image({ user })));
    expect(error.rule).toBe("unknown_user");
    expect(error.status).toBe("invalid_submission");
    expect(error.message).toMatch(says);
    expect(error.message).toContain("algorithm.tar");
  });

  it("says the image has no passwd when a named user meets none (an image FROM scratch)", () => {
    const error = refusal(() => resolveUser(image({ user: "app" }, { passwd: null, group: null })));
    expect(error.message).toContain("(it has none)");
    expect(resolveUser(image({ user: "1000" }, { passwd: null, group: null })).spec).toBe("1000:65534");
  });
});

describe("checkImageConfig: what the engine would refuse is the participant's, decided first", () => {
  it("passes an honest config and returns its user", () => {
    expect(
      checkImageConfig(image({ user: "1000:1000", volumes: ["/scratch", "/tmp/cache"] }), FOLDERS),
    ).toEqual(expect.objectContaining({ spec: "1000:1000" }));
    expect(checkImageConfig(image({ workingDir: "" }), FOLDERS).spec).toBe("65534:65534");
  });

  it.each([
    { workingDir: "/" },
    { workingDir: "/input" },
    { workingDir: "/output/" },
    { workingDir: "/dev/newdir" },
    { workingDir: "/etc" },
    { entrypoint: [""], cmd: ["python3", "/opt/predict.py"] },
  ])("passes config %j", (config) => {
    expect(() => checkImageConfig(image(config), FOLDERS)).not.toThrow();
  });

  it.each([
    [{ workingDir: "rel/dir" }, /WORKDIR "rel\/dir" is not an absolute path/],
    [{ entrypoint: null, cmd: null }, /neither ENTRYPOINT nor CMD/],
    [{ entrypoint: [], cmd: [] }, /neither ENTRYPOINT nor CMD/],
    [{ volumes: ["/proc"] }, /VOLUME "\/proc" is inside \/proc/],
    [{ volumes: ["/sys/fs"] }, /inside \/sys/],
    [{ volumes: ["/dev/"] }, /inside \/dev/],
    [{ volumes: ["/"] }, /covers the whole filesystem/],
    [{ volumes: ["//"] }, /covers the whole filesystem/],
    [{ volumes: ["/input"] }, /overlaps \/input/],
    [{ volumes: ["/output/sub"] }, /overlaps \/output/],
    [{ volumes: ["/proc/../input"] }, /overlaps \/input/],
    [{ volumes: ["scratch"] }, /not an absolute path/],
    [{ entrypoint: [""], cmd: null }, /neither ENTRYPOINT nor CMD/],
    [{ entrypoint: ["", "x"], cmd: null }, /first word of its command is empty/],
    // The engine makes a missing WORKDIR at start: in a read-only mount or a kernel folder it cannot.
    [
      { workingDir: "/input/newdir" },
      /WORKDIR "\/input\/newdir" is inside \/input, which the platform mounts/,
    ],
    [{ workingDir: "/output/sub" }, /inside \/output/],
    [{ workingDir: "/sys/newdir" }, /inside \/sys/],
    [{ workingDir: "/proc/self" }, /inside \/proc/],
    [{ workingDir: "/etc/hosts" }, /a file the engine provides/],
    [{ workingDir: `/${"a".repeat(5000)}` }, /longer than 4095 bytes/],
    [{ workingDir: `/opt/${"a".repeat(256)}` }, /a name longer than 255 bytes/],
    [
      { volumes: ["/etc/hostname"] },
      /VOLUME "\/etc\/hostname" is at \/etc\/hostname, a file the engine provides/,
    ],
    [{ volumes: ["/etc/resolv.conf/"] }, /a file the engine provides/],
    [{ volumes: [`/${"b".repeat(300)}`] }, /a name longer than 255 bytes/],
    [{ env: Array.from({ length: 1001 }, (_, i) => `V${i}=1`) }, /1001 variables/],
    [{ env: [`BIG=${"x".repeat(200 * 1024)}`] }, /over 1000 variables or 128/],
    [{ env: ["=oops"] }, /is not NAME=value/],
  ])("refuses config #%#", (config, says) => {
    const error = refusal(() => checkImageConfig(image(config), FOLDERS));
    expect(error.rule).toBe("bad_config");
    expect(error.message).toMatch(says);
  });
});
