/**
 * The hidden-set leak, as an attacker ran it: a program reads /code_execution/data/features.csv and writes
 * a header whose column names are base32 chunks of it; the format check echoes them as "unexpected
 * column" problems. With `logs.evaluation: none` its owner must see the status and a reason class only, in
 * the API, the pages and `proctor status`; the organizer sees it all. Where logs are shown, each field of
 * the program's making stays within logs.max_bytes, results.json included.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { finalReport } from "../../gateway-api/index.js";
import { formatProblem, parseSubmissionFormat } from "../../scoring/index.js";
import { validatePredictions } from "../../scoring/validate.js";
import { statusCommand } from "../../cli/status-command.js";
import { cli } from "../../cli/test-support/cli.js";
import {
  COMPETITION_YML,
  GOOD_ZIP,
  SUCCEEDED,
  getJson,
  postResult,
  startHarness,
  upload,
  type Harness,
} from "../test-support/harness.js";
import { PlainBrowser } from "./test-support/plain-browser.js";

/** The hidden features file the program read, and its base32, cut into column-name chunks. */
const FEATURES = "id,bill_length_mm,flipper_length_mm\npg0001,39.1,181\npg0002,46.5,217\npg0003,50.0,196\n";
const BASE32 = base32(Buffer.from(FEATURES));
const CHUNKS = BASE32.match(/.{1,48}/g)!;

function base32(bytes: Buffer): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return bits > 0 ? out + alphabet[(value << (5 - bits)) & 31] : out;
}

let dir: string;
/** The runner's report of the attacker's run: the real format check over the smuggling header. */
let report: ReturnType<typeof finalReport>;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "proctor-hidden-set-"));
  const format = parseSubmissionFormat(
    "id_column: id\ncolumns:\n  - {name: id, type: string}\n  - {name: species, type: string}\n",
    "format.yml",
  );
  const predictions = path.join(dir, "submission.csv");
  await writeFile(predictions, `id,${CHUNKS.join(",")}\npg0001,x\n`);
  const result = await validatePredictions(predictions, format, ["pg0001", "pg0002"]);
  if (result.ok) throw new Error("the smuggling header must be refused");
  report = finalReport({
    attempt: 1,
    status: "output_invalid",
    reason: result.summary,
    publicScore: null,
    sealedPrivateScore: null,
    durationMs: 2000,
    imageDigest: "sha256:" + "e".repeat(64),
    problems: result.problems.map(formatProblem),
    diagnosis: { exitCode: 0, problemCounts: result.counts },
  });
  // The attack's premise: what the runner reports carries the hidden data.
  expect(report.problems!.join("\n")).toContain(CHUNKS[0]);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A harness with the given logs section; one upload, reported as `body`; the owner's token and id. */
async function reported(h: Harness, body: unknown) {
  const token = h.token(`mallory-${Math.random().toString(36).slice(2, 8)}`);
  const answer = await upload(h, token, await GOOD_ZIP());
  expect(answer.status, answer.text).toBe(202);
  const id = (answer.json()["submission"] as { submission_id: string }).submission_id;
  const posted = await postResult(h, id, h.runner, body);
  expect(posted.status, posted.text).toBe(200);
  return { token, id };
}

/** A page as a browser without script, signed in with `token`, gets it. */
async function pageFor(h: Harness, token: string, route: string): Promise<string> {
  const browser = new PlainBrowser(h.url);
  await browser.signIn(token);
  return (await browser.request(route)).text;
}

/** No chunk of the hidden features (nor an 8-character piece of one) in `text`. */
function expectNoneOf(text: string, where: string) {
  for (const chunk of CHUNKS) expect(text, where).not.toContain(chunk.slice(0, 8));
  expect(text, where).not.toContain("pg0001");
}

describe("a hidden-set phase (logs: none)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({}, COMPETITION_YML.replace("evaluation: tail", "evaluation: none"));
    vi.stubEnv("XDG_CONFIG_HOME", path.join(dir, "config"));
    vi.stubEnv("PROCTOR_TOKEN", "");
    vi.stubEnv("PROCTOR_SERVER", "");
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await h?.close();
  });

  it("shows the owner the status and the reason class in the API, the pages and proctor status; the organizer all", async () => {
    const { token, id } = await reported(h, {
      ...report,
      stdout: `${BASE32}\n`,
      results_json: `{"leak": "${BASE32}"}`,
    });

    const view = (await getJson(h, `/v1/submissions/${id}`, token)).json();
    expect(view).toMatchObject({
      status: "output_invalid",
      reason_class: "wrong_format",
      reason: expect.stringMatching(
        /^the predictions do not follow the submission format: \d+ header problems \(this phase shows no details/,
      ),
      problems: [],
      results_json: null,
      logs: { visibility: "none", stdout: "", stderr: "" },
    });
    expectNoneOf(JSON.stringify(view), "GET /v1/submissions/:id");
    expectNoneOf((await getJson(h, "/v1/submissions", token)).text, "GET /v1/submissions");

    const page = await pageFor(h, token, "/submissions");
    expect(page).toContain("do not follow the submission format");
    expectNoneOf(page, "/submissions");
    expectNoneOf(await pageFor(h, token, "/submissions/live"), "/submissions/live");

    const shown = await cli(statusCommand(), [id, "--server", h.url, "--token", token]);
    expect(shown.stdout).toContain(`${id}: output_invalid`);
    expect(shown.stdout).toContain("header problem");
    expectNoneOf(shown.stdout + shown.stderr, "proctor status <id>");
    const json = await cli(statusCommand(), [id, "--server", h.url, "--token", token, "--json"]);
    expectNoneOf(json.stdout, "proctor status <id> --json");
    const list = await cli(statusCommand(), ["--server", h.url, "--token", token, "--json"]);
    expectNoneOf(list.stdout, "proctor status --json");

    // The organizer reads the whole record, from the intake and on the admin page.
    const whole = h.gateway.intake.organizer.submission(id);
    expect(whole.problems.join("\n")).toContain(CHUNKS[0]);
    expect(whole.stdout).toContain(BASE32);
    expect(whole.resultsJson).toContain(BASE32);
    expect(whole).not.toHaveProperty("sealedPrivateScore");
    const admin = await pageFor(h, h.gateway.intake.admins.add("orga").token, `/admin/submissions/${id}`);
    for (const chunk of CHUNKS) expect(admin).toContain(chunk);
    expect(admin).toContain(BASE32);
    expect(admin).toContain("do not follow the submission format");
    // The participant cannot open it.
    expect(await pageFor(h, token, `/admin/submissions/${id}`)).not.toContain(CHUNKS[0]!.slice(0, 8));
  });

  it("tells a failed run its exit code, and keeps a refusal before running as written", async () => {
    const failed = await reported(h, {
      ...SUCCEEDED,
      status: "failed",
      public_score: null,
      private_score_sealed: null,
      reason: `the program exited with code 3 after printing ${BASE32}`,
      diagnosis: { exit_code: 3, problem_counts: {} },
    });
    const view = (await getJson(h, `/v1/submissions/${failed.id}`, failed.token)).json();
    expect(view).toMatchObject({ reason_class: "exit_code", logs: { stdout: "" } });
    expect(view["reason"]).toMatch(/^the program exited with code 3 \(this phase shows no details/);
    expectNoneOf(JSON.stringify(view), "failed");

    const refusal = 'zip entry "../x.py": a path outside the submission folder; pack it again';
    const refused = await reported(h, {
      ...SUCCEEDED,
      status: "invalid_submission",
      public_score: null,
      private_score_sealed: null,
      reason: refusal,
    });
    const seen = (await getJson(h, `/v1/submissions/${refused.id}`, refused.token)).json();
    expect(seen).toMatchObject({ reason_class: "refused", reason: refusal });
  });

  it("answers an organizer asking for a submission that is not there with 404", async () => {
    const admin = h.gateway.intake.admins.add("orga-404").token;
    expect(await pageFor(h, admin, "/admin/submissions/sub-AAAAAAAAAAAAAAAAAAAAAA")).toContain(
      "No such submission",
    );
  });
});

describe("a phase that shows logs", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(
      {},
      COMPETITION_YML.replace(
        "evaluation: tail, tail_lines: 2",
        "evaluation: full, tail_lines: 2, max_bytes: 1k",
      ),
    );
  });
  afterAll(() => h?.close());

  it("caps each echoed value at 60 characters and every field of the program's making at logs.max_bytes", async () => {
    const results = JSON.stringify({ cases: "r".repeat(60_000) });
    const { token, id } = await reported(h, { ...report, results_json: results });
    const view = (await getJson(h, `/v1/submissions/${id}`, token)).json() as {
      reason: string;
      problems: string[];
      results_json: string;
      reason_class: string;
    };
    expect(view.reason_class).toBe("wrong_format");
    // Shown where logs are (48 characters: whole), within the byte cap with the rest counted.
    expect([view.reason, ...view.problems].join("\n")).toContain(`"${CHUNKS[0]}"`);
    expect(view.problems.at(-1)).toMatch(/^\[… \d+ more problems? not shown: logs\.max_bytes\]$/);
    for (const text of [view.reason, ...view.problems])
      for (const quoted of text.match(/"[^"]*"/g) ?? []) expect(quoted.length).toBeLessThanOrEqual(63);
    const bytes = (text: string) => Buffer.byteLength(text);
    expect(bytes(view.results_json)).toBeLessThanOrEqual(1024 + 80);
    expect(view.results_json).toMatch(/\[… \d+ more bytes not shown: logs\.max_bytes\]$/);
    const diagnostics = [view.reason, ...view.problems].map(bytes).reduce((a, b) => a + b, 0);
    expect(diagnostics).toBeLessThanOrEqual(1024 + 2 * 80);
    // The organizer keeps all 60 000 characters.
    expect(h.gateway.intake.organizer.submission(id).resultsJson).toBe(results);
  });
});
