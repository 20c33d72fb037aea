/**
 * deploy/, checked offline: no cluster, kubeconform or helm can be had here. Every Kubernetes manifest is
 * validated against the Kubernetes and KEDA schemas (kubernetes-models and @kubernetes-models/keda: ajv
 * validators generated from the OpenAPI schemas; they check types, formats and required fields); a kind
 * they do not carry fails. Unknown keys, which those validators let through, are found by type-checking
 * each document against the same packages' TypeScript interfaces. Then the rules that keep a runner pod
 * safe and working:
 * images pinned by tag, only the engine sidecar privileged, the runner non-root, no writable shared
 * storage, the runner credential only from a Secret, the engine's storage the pod's own, the runner's
 * TMPDIR and data at the same paths in the engine (it bind-mounts them), `--slots` agreeing with the GPUs
 * and with KEDA's threshold. ARC's Helm values have no schema: they must parse, carry the labels
 * submission.yml's `runs-on` asks for, and hold a valid pod template that keeps the same rules. The two
 * Dockerfiles are parsed and linted (dockerfile-utils), not built (no registry can be pulled from here).
 * Each rule is shown to catch what it is for, on a broken copy.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { kedaSh } from "@kubernetes-models/keda";
import { Copy, DockerfileParser } from "dockerfile-ast";
import { validate as lintDockerfile } from "dockerfile-utils";
import * as k8s from "kubernetes-models";
import type { v1 } from "kubernetes-models";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { parse as parseYaml, parseAllDocuments } from "yaml";

const ROOT = join(import.meta.dirname, "..");
const DEPLOY = join(ROOT, "deploy");

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** Every file under deploy/, relative to the repository root. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)))
    .sort();
}

interface Doc {
  where: string;
  doc: Obj;
}

function yamlDocs(file: string): Doc[] {
  return parseAllDocuments(readFileSync(join(ROOT, file), "utf8")).map((d, i) => {
    if (d.errors.length > 0) throw new Error(`${file} document ${i + 1}: ${d.errors[0]!.message}`);
    const doc: unknown = d.toJS();
    if (!isObj(doc)) throw new Error(`${file} document ${i + 1} is not a mapping`);
    return { where: `${file} document ${i + 1}`, doc };
  });
}

// --- The schemas: every model class kubernetes-models and its KEDA package carry, by apiVersion/kind ---

interface ModelClass {
  new (data: object): { validate(): void };
  apiVersion: string;
  kind: string;
}
const isModel = (v: unknown): v is ModelClass =>
  typeof v === "function" &&
  typeof (v as Partial<ModelClass>).apiVersion === "string" &&
  typeof (v as Partial<ModelClass>).kind === "string";

const MODELS = new Map<string, ModelClass>();
function collectModels(namespace: object, depth = 0): void {
  for (const value of Object.values(namespace)) {
    if (isModel(value)) MODELS.set(`${value.apiVersion}/${value.kind}`, value);
    else if (isObj(value) && depth < 2) collectModels(value, depth + 1);
  }
}
collectModels(k8s);
collectModels({ kedaSh });

/** What the schema of the document's apiVersion and kind says is wrong; an unknown kind is wrong. */
function schemaProblems(doc: Obj): string[] {
  const key = `${String(doc.apiVersion)}/${String(doc.kind)}`;
  const Model = MODELS.get(key);
  if (!Model)
    return [
      `${key} is no Kubernetes or KEDA kind the schemas know: fix apiVersion/kind, or check it another way`,
    ];
  try {
    new Model(doc).validate();
    return [];
  } catch (error) {
    return [(error as Error).message];
  }
}

/** A pod template's validity, as the PodTemplateSpec schema says (for ARC's values). */
function podTemplateProblems(template: unknown): string[] {
  try {
    new k8s.v1.PodTemplateSpec(template as v1.IPodTemplateSpec).validate();
    return [];
  } catch (error) {
    return [(error as Error).message];
  }
}

/**
 * Unknown fields, which the schemas' validators let through: each document is type-checked as an object
 * literal of its kind's interface (kubernetes-models' declarations, made from the same OpenAPI schema), so
 * TypeScript's excess-property check names any key the kind does not have, at any depth. One program for
 * all the documents given; returns each one's problems, in order.
 */
function unknownFieldProblems(docs: { doc: Obj; type?: string }[]): string[][] {
  const typeOf = (doc: Obj) => {
    const [group, version] = String(doc.apiVersion).includes("/")
      ? String(doc.apiVersion).split("/")
      : [undefined, String(doc.apiVersion)];
    const where =
      group === "keda.sh"
        ? "@kubernetes-models/keda/keda.sh"
        : `kubernetes-models${group ? `/${group}` : ""}`;
    return { module: `${where}/${version}/${String(doc.kind)}`, name: `I${String(doc.kind)}` };
  };
  const sources = new Map(
    docs.map(({ doc, type }, i) => {
      const { module, name } = type
        ? { module: `kubernetes-models/v1/${type}`, name: `I${type}` }
        : typeOf(doc);
      const text = `import type { ${name} } from "${module}";\nexport const doc: ${name} = ${JSON.stringify(doc)};\n`;
      return [join(ROOT, `test/deploy-doc-${i}.ts`), text];
    }),
  );
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language) =>
    sources.has(name)
      ? ts.createSourceFile(name, sources.get(name)!, language)
      : getSourceFile(name, language);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => sources.has(name) || fileExists(name);
  const program = ts.createProgram([...sources.keys()], options, host);
  return [...sources.keys()].map((name) =>
    ts
      .getPreEmitDiagnostics(program, program.getSourceFile(name))
      // The literal's keys are JSON strings: name them as the YAML does.
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, " ").replace(/'"([^"]+)"'/g, "'$1'")),
  );
}

// --- Our own rules for a runner pod ---

const ENGINE = "engine";
const ENGINE_STORAGE = "/var/lib/docker";
const CREDENTIAL = "PROCTOR_RUNNER_CREDENTIAL";

/** An image named by a version tag (or a digest): never untagged, never latest. */
function imageProblem(image: unknown): string | null {
  if (typeof image !== "string" || !image) return "has no image";
  if (image.includes("@sha256:")) return null;
  const name = image.slice(image.lastIndexOf("/") + 1);
  const tag = name.includes(":") ? name.slice(name.indexOf(":") + 1) : "";
  if (!tag) return `image ${image} has no tag: pin it to a version (name:1.2.3) or a digest`;
  if (/(^|[-.])latest$/.test(tag)) return `image ${image} is not pinned: name a version, not ${tag}`;
  return null;
}

const argAfter = (args: string[] | undefined, flag: string) => {
  const i = args?.indexOf(flag) ?? -1;
  return i >= 0 ? args![i + 1] : undefined;
};

function mountsOf(container: v1.IContainer): Map<string, v1.IVolumeMount> {
  return new Map((container.volumeMounts ?? []).map((m) => [m.mountPath, m]));
}

/** The problems of one pod spec (a Deployment's template or ARC's runner template). */
function podProblems(spec: v1.IPodSpec): string[] {
  const problems: string[] = [];
  const sidecars = (spec.initContainers ?? []).filter((c) => c.restartPolicy === "Always");
  const all = [...(spec.initContainers ?? []), ...spec.containers];
  const volumes = new Map((spec.volumes ?? []).map((v) => [v.name, v]));
  const engine = sidecars.find((c) => c.name === ENGINE);
  if (!engine)
    problems.push(`no "${ENGINE}" sidecar (an initContainer with restartPolicy: Always) runs Docker`);

  for (const c of all) {
    const problem = imageProblem(c.image);
    if (problem) problems.push(`${c.name}: ${problem}`);
    const privileged = c.securityContext?.privileged === true;
    if (privileged && c !== engine)
      problems.push(`${c.name} is privileged: only the "${ENGINE}" sidecar may be (Docker needs it)`);
    for (const env of c.env ?? []) {
      if (env.name === CREDENTIAL && !env.valueFrom?.secretKeyRef)
        problems.push(
          `${c.name}: ${CREDENTIAL} must come from a Secret (valueFrom.secretKeyRef), never a value`,
        );
      if (env.value && /\bpr[ckt]_[A-Za-z0-9]/.test(env.value))
        problems.push(`${c.name}: ${env.name} holds what looks like a proctor credential: use a Secret`);
    }
    for (const from of c.envFrom ?? [])
      if (from.configMapRef)
        problems.push(`${c.name}: envFrom a ConfigMap could carry the credential: name each variable in env`);
    for (const m of c.volumeMounts ?? []) {
      const v = volumes.get(m.name);
      if (!v) problems.push(`${c.name} mounts volume ${m.name}, which the pod does not define`);
      // Only the pod's own scratch (emptyDir, an ephemeral volume) may be written; shared storage is read-only.
      else if (!v.emptyDir && !v.ephemeral && m.readOnly !== true)
        problems.push(
          `${c.name} mounts ${m.name} (shared storage) at ${m.mountPath} writable: add readOnly: true`,
        );
    }
  }
  for (const v of volumes.values()) {
    if (v.persistentVolumeClaim && v.persistentVolumeClaim.readOnly !== true)
      problems.push(`volume ${v.name}: the claim must be read-only (persistentVolumeClaim.readOnly: true)`);
    if (v.hostPath && /docker\.sock|\/run\/docker|\/var\/lib\/docker/.test(v.hostPath.path))
      problems.push(
        `volume ${v.name} is the node's engine (${v.hostPath.path}): the default is an engine per pod (docs/scale.md)`,
      );
  }

  for (const c of spec.containers) {
    const sc = c.securityContext;
    if (sc?.runAsNonRoot !== true || !sc.runAsUser)
      problems.push(`${c.name} must run as a non-root user (runAsNonRoot: true, runAsUser: a non-zero uid)`);
    if (sc?.allowPrivilegeEscalation !== false)
      problems.push(`${c.name}: set allowPrivilegeEscalation: false`);
  }

  if (engine) {
    const storage = mountsOf(engine).get(ENGINE_STORAGE);
    const volume = storage && volumes.get(storage.name);
    if (!volume || !(volume.emptyDir || volume.ephemeral))
      problems.push(
        `${ENGINE}: ${ENGINE_STORAGE} must be the pod's own emptyDir or ephemeral volume, never shared between runners`,
      );
    // The engine bind-mounts paths of the runner's filesystem (the extracted submission under TMPDIR, the
    // data): they must be the same volumes at the same paths in the engine.
    const engineMounts = mountsOf(engine);
    for (const c of spec.containers) {
      const tmpdir = c.env?.find((e) => e.name === "TMPDIR")?.value;
      if (!tmpdir) problems.push(`${c.name}: set TMPDIR to a folder the engine sees at the same path`);
      else if (engineMounts.get(tmpdir)?.name !== mountsOf(c).get(tmpdir)?.name || !engineMounts.has(tmpdir))
        problems.push(`${c.name}: TMPDIR ${tmpdir} must be a volume the ${ENGINE} mounts at the same path`);
      for (const m of c.volumeMounts ?? []) {
        const v = volumes.get(m.name);
        if (v && !v.emptyDir && engineMounts.get(m.mountPath)?.name !== m.name)
          problems.push(
            `${c.name}: ${m.name} at ${m.mountPath} must be mounted at the same path in the ${ENGINE}`,
          );
      }
    }
  }
  return problems;
}

const podSpecOf = (doc: Obj): v1.IPodSpec | null => {
  const template = isObj(doc.spec) && isObj(doc.spec.template) ? doc.spec.template : null;
  return template && isObj(template.spec) ? (template.spec as unknown as v1.IPodSpec) : null;
};

/** A `proctor runner` Deployment: its kind, slots and the GPUs its engine holds. */
interface PullRunner {
  name: string;
  kind: string | undefined;
  slots: number;
  gpus: number;
}
function pullRunner(doc: Obj): PullRunner | null {
  const spec = podSpecOf(doc);
  const runner = spec?.containers.find((c) => c.args?.[0] === "runner");
  if (!spec || !runner) return null;
  const engine = spec.initContainers?.find((c) => c.name === ENGINE);
  return {
    name: String((doc.metadata as Obj | undefined)?.name),
    kind: argAfter(runner.args, "--kind"),
    slots: Number(argAfter(runner.args, "--slots") ?? 1),
    gpus: Number(engine?.resources?.limits?.["nvidia.com/gpu"] ?? 0),
  };
}

function pullRunnerProblems(doc: Obj): string[] {
  const r = pullRunner(doc);
  if (!r) return [];
  const problems: string[] = [];
  const component = ((doc.metadata as Obj).labels as Obj | undefined)?.["app.kubernetes.io/component"];
  if (r.kind !== component) problems.push(`${r.name}: --kind ${r.kind} but labelled ${String(component)}`);
  if (r.kind === "gpu" && r.slots !== r.gpus)
    problems.push(`${r.name}: --slots ${r.slots} but the engine holds ${r.gpus} GPU(s): one GPU per slot`);
  if (r.kind !== "gpu" && r.gpus > 0) problems.push(`${r.name}: a cpu runner holds GPUs`);
  const env = podSpecOf(doc)!.containers.flatMap((c) => c.env ?? []);
  if (!env.some((e) => e.name === CREDENTIAL)) problems.push(`${r.name}: no ${CREDENTIAL}`);
  return problems;
}

/** A ScaledObject must scale a pull runner Deployment on its kind's queue, one pod per --slots. */
function scaledObjectProblems(doc: Obj, deployments: Obj[]): string[] {
  const spec = doc.spec as { scaleTargetRef: { name: string; kind?: string }; triggers: Obj[] };
  const name = String((doc.metadata as Obj).name);
  const target = deployments.find((d) => (d.metadata as Obj).name === spec.scaleTargetRef.name);
  const runner = target && pullRunner(target);
  if ((spec.scaleTargetRef.kind ?? "Deployment") !== "Deployment" || !runner)
    return [
      `${name}: scaleTargetRef ${spec.scaleTargetRef.name} is no pull runner Deployment in deploy/kubernetes`,
    ];
  const problems: string[] = [];
  for (const trigger of spec.triggers) {
    const metadata = trigger.metadata as Record<string, string>;
    const source = trigger.type === "prometheus" ? metadata.query : metadata.url;
    if (!source?.includes(`proctor_queue_length{kind="${runner.kind}"}`))
      problems.push(
        `${name}: the ${String(trigger.type)} trigger does not read proctor_queue_length{kind="${runner.kind}"}`,
      );
    if (Number(metadata.threshold) !== runner.slots)
      problems.push(
        `${name}: threshold ${metadata.threshold} must be the runner's --slots (${runner.slots})`,
      );
  }
  return problems;
}

// --- ARC's values ---

/**
 * What submission.yml's run job asks for, with the kind put in: `[self-hosted, cpu]` (ARC 0.14's
 * scaleSetLabels serve it) or, as docs/github.md offers for older ARC, one scale set's name `proctor-cpu`.
 */
function submissionRunsOn(kind: string): string[] | string {
  const workflow = parseYaml(readFileSync(join(ROOT, ".github/workflows/submission.yml"), "utf8")) as {
    jobs: Record<string, { "runs-on": unknown }>;
  };
  const withKind = (v: string) => v.replace(/\$\{\{[^}]*cpu_or_gpu[^}]*\}\}/, kind);
  const runsOn = Object.values(workflow.jobs)
    .map((job) => job["runs-on"])
    .find((r) => JSON.stringify(r).includes("cpu_or_gpu"));
  return Array.isArray(runsOn) ? runsOn.map((l) => withKind(String(l))) : withKind(String(runsOn));
}

function arcProblems(values: Obj, kind: "cpu" | "gpu", runsOn = submissionRunsOn(kind)): string[] {
  const problems: string[] = [];
  const labels = [
    values.runnerScaleSetName,
    ...(Array.isArray(values.scaleSetLabels) ? values.scaleSetLabels : []),
  ];
  for (const label of Array.isArray(runsOn) ? runsOn : [runsOn])
    if (!labels.includes(label))
      problems.push(
        `the scale set (name and scaleSetLabels) lacks ${label}: submission.yml's job asks for runs-on ${JSON.stringify(runsOn)}`,
      );
  if (values.containerMode)
    problems.push("containerMode replaces the template's engine, data and TMPDIR: leave it out");
  if (typeof values.githubConfigSecret !== "string")
    problems.push("githubConfigSecret must name a Secret made beforehand, never hold the GitHub credential");
  const invalid = podTemplateProblems(values.template);
  // Our rules read a valid template only.
  if (invalid.length > 0) return [...problems, ...invalid];
  problems.push(...podProblems((values.template as { spec: v1.IPodSpec }).spec));
  return problems;
}

// --- Dockerfiles ---

interface DockerfileFacts {
  problems: string[];
  /** The final stage's base image. */
  base: string;
}
function dockerfileProblems(text: string, { finalUser }: { finalUser: boolean }): DockerfileFacts {
  const problems = lintDockerfile(text)
    .filter((d) => d.severity === 1)
    .map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
  const dockerfile = DockerfileParser.parse(text);
  const froms = dockerfile.getFROMs();
  const stages = new Set(froms.map((f) => f.getBuildStage()).filter(Boolean));
  for (const from of froms) {
    const image = from.getImage() ?? "";
    if (stages.has(image)) continue;
    const problem = imageProblem(image);
    if (problem) problems.push(`FROM ${problem}`);
  }
  for (const instruction of dockerfile.getInstructions()) {
    const fromFlag = instruction instanceof Copy ? instruction.getFromFlag()?.getValue() : null;
    if (fromFlag && !stages.has(fromFlag)) {
      const problem = imageProblem(fromFlag);
      if (problem) problems.push(`COPY --from ${problem}`);
    }
  }
  const last = froms.at(-1);
  const finalStage = dockerfile
    .getInstructions()
    .filter((i) => last && i.getRange().start.line > last.getRange().start.line);
  const user = finalStage.filter((i) => i.getKeyword() === "USER").at(-1);
  const uid = user?.getArgumentsContent()?.split(":")[0];
  if (finalUser && (!uid || !/^\d+$/.test(uid) || uid === "0"))
    problems.push("the final stage must end as a non-root user, by number (USER 1000:1000)");
  return { problems, base: last?.getImage() ?? "" };
}

// ------------------------------------------------------------------------------------------------------

const files = filesUnder(DEPLOY);
const manifestFiles = files.filter((f) => f.startsWith("deploy/kubernetes/"));
const manifests = manifestFiles.flatMap(yamlDocs);
const deployments = manifests.filter((m) => m.doc.kind === "Deployment").map((m) => m.doc);
const arcFiles = files.filter((f) => f.startsWith("deploy/arc/"));
const runnerManifest = (file: string) =>
  structuredClone(manifests.find((m) => m.where.startsWith(file))!.doc);

describe("deploy/", () => {
  it("holds YAML only where it is checked: Kubernetes manifests in kubernetes/, ARC values in arc/", () => {
    const yaml = files.filter((f) => /\.ya?ml$/.test(f));
    expect(yaml.filter((f) => !manifestFiles.includes(f) && !arcFiles.includes(f))).toEqual([]);
    expect(manifestFiles.length).toBeGreaterThanOrEqual(5);
    expect(arcFiles).toEqual(["deploy/arc/values-cpu.yaml", "deploy/arc/values-gpu.yaml"]);
  });

  it("every manifest is valid against the Kubernetes and KEDA schemas", () => {
    const kinds = manifests.map((m) => `${String(m.doc.apiVersion)}/${String(m.doc.kind)}`).sort();
    expect(new Set(kinds)).toEqual(
      new Set([
        "apps/v1/Deployment",
        "keda.sh/v1alpha1/ScaledObject",
        "v1/ConfigMap",
        "v1/Namespace",
        "v1/PersistentVolume",
        "v1/PersistentVolumeClaim",
      ]),
    );
    for (const m of manifests) expect(schemaProblems(m.doc), m.where).toEqual([]);
    const unknown = unknownFieldProblems(manifests);
    manifests.forEach((m, i) => expect(unknown[i], m.where).toEqual([]));
  });

  it("a misspelt or unknown key is refused, at any depth, naming it", () => {
    const deployment = runnerManifest("deploy/kubernetes/runner-cpu.yaml");
    const spec = podSpecOf(deployment)!;
    Object.assign(spec.containers[0]!.volumeMounts![0]!, { readonly: true });
    Object.assign(spec.volumes![0]!.emptyDir!, { sizelimit: "1Gi" });
    const scaled = structuredClone(manifests.find((m) => m.doc.kind === "ScaledObject")!.doc);
    Object.assign(scaled.spec as Obj, { minReplicas: 0 });
    const [deploymentProblems, scaledProblems] = unknownFieldProblems([{ doc: deployment }, { doc: scaled }]);
    expect(deploymentProblems!.join("\n")).toMatch(/'readonly' does not exist in type 'IVolumeMount'/);
    expect(deploymentProblems!.join("\n")).toMatch(
      /'sizelimit' does not exist in type 'IEmptyDirVolumeSource'/,
    );
    expect(scaledProblems!.join()).toMatch(/'minReplicas' does not exist/);
  });

  it("the schemas refuse an unknown kind, a wrong type and a missing required field", () => {
    expect(schemaProblems({ apiVersion: "apps/v1", kind: "Deploymnet", metadata: { name: "x" } })[0]).toMatch(
      /apps\/v1\/Deploymnet is no Kubernetes or KEDA kind/,
    );
    expect(schemaProblems({ apiVersion: "keda.sh/v1", kind: "ScaledObject" })[0]).toMatch(
      /no Kubernetes or KEDA/,
    );
    const deployment = runnerManifest("deploy/kubernetes/runner-cpu.yaml");
    (deployment.spec as Obj).replicas = "two";
    expect(schemaProblems(deployment).join()).toMatch(/replicas must be integer/);
    const scaled = structuredClone(manifests.find((m) => m.doc.kind === "ScaledObject")!.doc);
    ((scaled.spec as Obj).triggers as Obj[])[0]!.metadata = { threshold: 2 };
    expect(schemaProblems(scaled).join()).toMatch(/threshold must be string/);
    delete (scaled.spec as Obj).scaleTargetRef;
    expect(schemaProblems(scaled).join()).toMatch(/must have required property scaleTargetRef/);
  });

  it("no Secret with its data is committed: the credential is made with kubectl", () => {
    for (const m of manifests) expect(m.doc.kind, m.where).not.toBe("Secret");
    for (const file of files)
      expect(readFileSync(join(ROOT, file), "utf8"), file).not.toMatch(/\bpr[ckt]_[A-Za-z0-9]{8}/);
  });

  it("the data volume is ReadOnlyMany and read-only wherever it is mounted", () => {
    const claim = manifests.find((m) => m.doc.kind === "PersistentVolumeClaim")!.doc;
    expect((claim.spec as Obj).accessModes).toEqual(["ReadOnlyMany"]);
    const volume = manifests.find((m) => m.doc.kind === "PersistentVolume")!.doc;
    expect((volume.spec as Obj).accessModes).toEqual(["ReadOnlyMany"]);
    for (const d of deployments) {
      const spec = podSpecOf(d)!;
      const data = spec.volumes!.find(
        (v) => v.persistentVolumeClaim?.claimName === (claim.metadata as Obj).name,
      );
      expect(data?.persistentVolumeClaim?.readOnly).toBe(true);
    }
  });
});

describe("runner pods", () => {
  const pods = [
    ...deployments.map((d) => ({ where: String((d.metadata as Obj).name), spec: podSpecOf(d)! })),
    ...arcFiles.map((f) => ({
      where: f,
      spec: (yamlDocs(f)[0]!.doc.template as { spec: v1.IPodSpec }).spec,
    })),
  ];

  it("keep every rule: pinned images, only the engine privileged, a non-root runner, read-only shared storage, the credential from a Secret, the engine's storage its own, shared paths", () => {
    expect(pods.length).toBe(4);
    for (const pod of pods) expect(podProblems(pod.spec), pod.where).toEqual([]);
  });

  it("pull runners claim their own kind, one GPU per slot, with the credential", () => {
    const runners = deployments.map(pullRunner);
    expect(runners.map((r) => r?.kind).sort()).toEqual(["cpu", "gpu"]);
    for (const d of deployments) expect(pullRunnerProblems(d)).toEqual([]);
  });

  it("docs/scale.md's hostPath alternative for the data keeps the rules, read-only", () => {
    for (const file of ["deploy/kubernetes/runner-cpu.yaml", "deploy/kubernetes/runner-gpu.yaml"]) {
      const spec = podSpecOf(runnerManifest(file))!;
      const data = spec.volumes!.find((v) => v.name === "data")!;
      delete data.persistentVolumeClaim;
      data.hostPath = { path: "/srv/proctor", type: "Directory" };
      expect(podProblems(spec), file).toEqual([]);
      spec.initContainers![0]!.volumeMounts!.find((m) => m.name === "data")!.readOnly = false;
      expect(podProblems(spec).join(), file).toMatch(
        /engine mounts data \(shared storage\) at \/srv\/proctor writable/,
      );
    }
  });

  const broken: [string, (spec: v1.IPodSpec) => void, RegExp][] = [
    [
      "a privileged runner",
      (s) => (s.containers[0]!.securityContext!.privileged = true),
      /runner is privileged/,
    ],
    ["a root runner", (s) => (s.containers[0]!.securityContext!.runAsNonRoot = false), /non-root user/],
    [
      "an escalating runner",
      (s) => delete s.containers[0]!.securityContext!.allowPrivilegeEscalation,
      /allowPrivilegeEscalation/,
    ],
    [
      "an untagged image",
      (s) => (s.containers[0]!.image = "registry.example.org/proctor/runner"),
      /has no tag/,
    ],
    ["a latest image", (s) => (s.initContainers![0]!.image = "docker:latest"), /is not pinned/],
    ["a cpu-latest image", (s) => (s.containers[0]!.image = "proctor/runtime:cpu-latest"), /is not pinned/],
    [
      "a writable data mount",
      (s) => (s.containers[0]!.volumeMounts!.find((m) => m.name === "data")!.readOnly = false),
      /mounts data \(shared storage\) at \/srv\/proctor writable/,
    ],
    [
      "a writable claim",
      (s) => (s.volumes!.find((v) => v.name === "data")!.persistentVolumeClaim!.readOnly = false),
      /the claim must be read-only/,
    ],
    [
      "the credential as a value",
      (s) => {
        const env = s.containers[0]!.env!.find((e) => e.name === CREDENTIAL)!;
        delete env.valueFrom;
        env.value = "prc_abcdefgh12345678";
      },
      /must come from a Secret/,
    ],
    [
      "a credential in another variable",
      (s) => s.containers[0]!.env!.push({ name: "EXTRA", value: "prc_abcdefgh12345678" }),
      /EXTRA holds what looks like a proctor credential/,
    ],
    [
      "envFrom a ConfigMap",
      (s) => (s.containers[0]!.envFrom = [{ configMapRef: { name: "everything" } }]),
      /envFrom a ConfigMap/,
    ],
    [
      "engine storage on the node",
      (s) => {
        const storage = s.volumes!.find((v) => v.name === "engine-storage")!;
        delete storage.emptyDir;
        storage.hostPath = { path: "/var/lib/proctor-engine" };
      },
      /\/var\/lib\/docker must be the pod's own/,
    ],
    [
      "the node's engine socket",
      (s) => s.volumes!.push({ name: "sock", hostPath: { path: "/var/run/docker.sock" } }),
      /is the node's engine/,
    ],
    ["no engine sidecar", (s) => (s.initContainers![0]!.restartPolicy = undefined), /no "engine" sidecar/],
    [
      "TMPDIR the engine cannot see",
      (s) => (s.containers[0]!.env!.find((e) => e.name === "TMPDIR")!.value = "/tmp"),
      /TMPDIR \/tmp must be a volume the engine mounts at the same path/,
    ],
    [
      "data at another path in the engine",
      (s) => (s.initContainers![0]!.volumeMounts!.find((m) => m.name === "data")!.mountPath = "/data"),
      /data at \/srv\/proctor must be mounted at the same path in the engine/,
    ],
    [
      "a mount of no volume",
      (s) => s.containers[0]!.volumeMounts!.push({ name: "nothing", mountPath: "/x" }),
      /mounts volume nothing, which the pod does not define/,
    ],
  ];
  it.each(broken)("a broken copy is refused: %s", (_, breakIt, message) => {
    for (const file of ["deploy/kubernetes/runner-cpu.yaml", "deploy/kubernetes/runner-gpu.yaml"]) {
      const doc = runnerManifest(file);
      breakIt(podSpecOf(doc)!);
      expect(podProblems(podSpecOf(doc)!).join("\n"), file).toMatch(message);
    }
  });

  it("a pull runner whose --kind, label or GPUs disagree is refused", () => {
    const gpu = runnerManifest("deploy/kubernetes/runner-gpu.yaml");
    podSpecOf(gpu)!.containers[0]!.args = ["runner", "--gateway", "x", "--kind", "gpu", "--slots", "2"];
    expect(pullRunnerProblems(gpu).join()).toMatch(/--slots 2 but the engine holds 1 GPU/);
    podSpecOf(gpu)!.containers[0]!.args = ["runner", "--kind", "cpu"];
    expect(pullRunnerProblems(gpu).join()).toMatch(/--kind cpu but labelled gpu.*a cpu runner holds GPUs/);
    const cpu = runnerManifest("deploy/kubernetes/runner-cpu.yaml");
    podSpecOf(cpu)!.containers[0]!.env = podSpecOf(cpu)!.containers[0]!.env!.filter(
      (e) => e.name !== CREDENTIAL,
    );
    expect(pullRunnerProblems(cpu).join()).toMatch(/no PROCTOR_RUNNER_CREDENTIAL/);
  });
});

describe("KEDA", () => {
  const scaled = manifests.filter((m) => m.doc.kind === "ScaledObject");

  it("scales each pull runner on its kind's queue, one pod per --slots", () => {
    expect(scaled.map((m) => ((m.doc.spec as Obj).scaleTargetRef as Obj).name).sort()).toEqual(
      deployments.map((d) => (d.metadata as Obj).name).sort(),
    );
    for (const m of scaled) expect(scaledObjectProblems(m.doc, deployments), m.where).toEqual([]);
  });

  it("refuses a threshold other than the slots, another kind's queue, and a target that is no runner", () => {
    const doc = structuredClone(scaled.find((m) => JSON.stringify(m.doc).includes('kind=\\"cpu\\"'))!.doc);
    const trigger = ((doc.spec as Obj).triggers as Obj[])[0]!.metadata as Obj;
    trigger.threshold = "5";
    trigger.query = 'sum(proctor_queue_length{kind="gpu"})';
    const problems = scaledObjectProblems(doc, deployments).join("\n");
    expect(problems).toMatch(/threshold 5 must be the runner's --slots \(2\)/);
    expect(problems).toMatch(/does not read proctor_queue_length\{kind="cpu"\}/);
    ((doc.spec as Obj).scaleTargetRef as Obj).name = "proctor-gateway";
    expect(scaledObjectProblems(doc, deployments).join()).toMatch(/no pull runner Deployment/);
  });
});

describe("ARC's Helm values (no schema to check them against: they parse, carry the labels, hold a valid pod template)", () => {
  it.each([
    ["deploy/arc/values-cpu.yaml", "cpu"],
    ["deploy/arc/values-gpu.yaml", "gpu"],
  ] as const)("%s serves submission.yml's [self-hosted, %s] job", (file, kind) => {
    const docs = yamlDocs(file);
    expect(docs).toHaveLength(1);
    expect(arcProblems(docs[0]!.doc, kind)).toEqual([]);
    const engine = (docs[0]!.doc.template as { spec: v1.IPodSpec }).spec.initContainers![0]!;
    expect(engine.resources?.limits?.["nvidia.com/gpu"] !== undefined).toBe(kind === "gpu");
  });

  it("their pod templates carry no key a pod template does not have", () => {
    const templates = arcFiles.map((f) => ({
      doc: yamlDocs(f)[0]!.doc.template as Obj,
      type: "PodTemplateSpec",
    }));
    expect(unknownFieldProblems(templates)).toEqual([[], []]);
    Object.assign((templates[0]!.doc.spec as v1.IPodSpec).containers[0]!, { envfrom: [] });
    expect(unknownFieldProblems(templates.slice(0, 1))[0]!.join()).toMatch(
      /'envfrom' does not exist in type 'IContainer'/,
    );
  });

  it("also serve docs/github.md's form for older ARC, runs-on: proctor-<kind>, by the scale set's name", () => {
    const values = yamlDocs("deploy/arc/values-gpu.yaml")[0]!.doc;
    expect(arcProblems(values, "gpu", "proctor-gpu")).toEqual([]);
    expect(arcProblems(values, "gpu", "proctor-cpu").join()).toMatch(/lacks proctor-cpu/);
  });

  it("refuses missing labels, containerMode, an inline GitHub credential and an invalid template", () => {
    const values = yamlDocs("deploy/arc/values-cpu.yaml")[0]!.doc;
    values.scaleSetLabels = ["proctor-cpu"];
    values.containerMode = { type: "dind" };
    values.githubConfigSecret = { github_token: "x" };
    ((values.template as Obj).spec as Obj).containers = [{ name: "runner", image: 7 }];
    const problems = arcProblems(values, "cpu").join("\n");
    expect(problems).toMatch(
      /lacks self-hosted: submission.yml's job asks for runs-on \["self-hosted","cpu"\]/,
    );
    expect(problems).toMatch(/lacks cpu/);
    expect(problems).toMatch(/containerMode/);
    expect(problems).toMatch(/githubConfigSecret must name a Secret/);
    expect(problems).toMatch(/image must be string/);
  });
});

describe("Dockerfiles (parsed and linted; they cannot be built here: no registry answers)", () => {
  const runner = readFileSync(join(DEPLOY, "runner.Dockerfile"), "utf8");
  const engine = readFileSync(join(DEPLOY, "engine.Dockerfile"), "utf8");

  it("the runner image: pinned Node 20 on Debian bookworm, the built CLI, the docker CLI, a non-root user", () => {
    const facts = dockerfileProblems(runner, { finalUser: true });
    expect(facts.problems).toEqual([]);
    expect(facts.base).toMatch(/^node:20\.\d+\.\d+-bookworm-slim$/);
    expect(runner).toMatch(/^COPY --from=docker:\S+ \/usr\/local\/bin\/docker /m);
    expect(runner).toMatch(/^RUN node scripts\/bundle\.mjs cli/m);
    expect(runner).toMatch(/^ENTRYPOINT \["node", "\/opt\/proctor\/build\/proctor\.mjs"\]$/m);
  });

  it("the runner image's context leaves out the gateway's data, private keys, node_modules and .git", () => {
    const ignored = readFileSync(join(DEPLOY, "runner.Dockerfile.dockerignore"), "utf8").split("\n");
    for (const entry of [".proctor", "**/.proctor", "*.key.pem", "**/*.key.pem", "node_modules", ".git"])
      expect(ignored).toContain(entry);
  });

  it("the engine image: pinned Debian with docker.io and runsc, runsc registered where Debian puts it", () => {
    expect(dockerfileProblems(engine, { finalUser: false }).problems).toEqual([]);
    expect(engine).toMatch(/apt-get install[^]*\bdocker\.io\b[^]*\brunsc\b/);
    const daemon = JSON.parse(readFileSync(join(DEPLOY, "engine/daemon.json"), "utf8")) as {
      runtimes: Record<string, { path: string }>;
    };
    expect(daemon.runtimes.runsc?.path).toBe("/usr/bin/runsc");
    expect(readFileSync(join(DEPLOY, "engine.Dockerfile.dockerignore"), "utf8")).toMatch(/^\*$/m);
    // The entrypoint is valid sh.
    execFileSync("sh", ["-n", join(DEPLOY, "engine/entrypoint.sh")]);
  });

  it("refuses an unpinned base, a latest COPY --from, a root final user and an unknown instruction", () => {
    const bad = runner
      .replace(/^FROM node:\S+ AS build$/m, "FROM node AS build")
      .replace(/docker:[\d.]+-cli/, "docker:latest")
      .replace(/^USER .*$/m, "USER root")
      .concat("\nFROMM x\n");
    const problems = dockerfileProblems(bad, { finalUser: true }).problems.join("\n");
    expect(problems).toMatch(/FROM image node has no tag/);
    expect(problems).toMatch(/COPY --from image docker:latest is not pinned/);
    expect(problems).toMatch(/non-root user, by number/);
    expect(problems).toMatch(/Unknown instruction: FROMM/);
  });
});
