import { type Command } from "commander";
import { appendFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import { EXIT_CODES } from "../status/index.js";

/**
 * `proctor runtime diff`, `diff-comment`, `record` and `record-published`: the package diff of a pull
 * request (made in the PR's run, posted by the comment job that never runs the PR's code) and the record
 * of published images (runtime/published.json). Subcommands of `proctor runtime`.
 */
export function addPackageDiffCommands(runtime: Command): void {
  runtime
    .command("diff")
    .description(
      "the package diff of a pull request for one flavour: its lock against the base branch's (the published image's), as data for the comment job; fails on a downgrade nobody asked for",
    )
    .requiredOption("--flavour <flavour>", "cpu or gpu")
    .requiredOption("--base <dir>", "a checkout of the base branch")
    .option("--root <dir>", "the pull request's checkout", ".")
    .requiredOption("--pull-request <number>", "the pull request's number")
    .requiredOption("--head-sha <sha>", "the pull request's head commit")
    .option("--description-file <file>", "the pull request's description (for allow-downgrade: lines)")
    .option("--image-size <bytes>", "the size of the image this run built")
    .requiredOption("--out <file>", "where the report goes (package-diff.json)")
    .option("--summary <file>", "append the diff as Markdown here (the job summary)")
    .action(
      async (flags: {
        flavour: string;
        base: string;
        root: string;
        pullRequest: string;
        headSha: string;
        descriptionFile?: string;
        imageSize?: string;
        out: string;
        summary?: string;
      }) => {
        const { downgradeFailures, makePackageDiffReport, packageDiffComment } =
          await import("../runtime/index.js");
        if (flags.flavour !== "cpu" && flags.flavour !== "gpu") return usage(`--flavour must be cpu or gpu`);
        const pullRequest = Number(flags.pullRequest);
        if (!Number.isInteger(pullRequest) || pullRequest <= 0)
          return usage(`--pull-request must be a pull request's number`);
        const size = flags.imageSize ? Number(flags.imageSize) : null;
        if (size !== null && !(Number.isInteger(size) && size >= 0))
          return usage(`--image-size must be a number of bytes`);
        const report = await makePackageDiffReport({
          root: flags.root,
          baseRoot: flags.base,
          flavour: flags.flavour,
          pullRequest,
          headSha: flags.headSha,
          description: flags.descriptionFile ? await readFile(flags.descriptionFile, "utf8") : "",
          builtSize: size,
        });
        await mkdir(path.dirname(flags.out), { recursive: true });
        await writeFile(flags.out, `${JSON.stringify(report, null, 2)}\n`);
        const counts = ["downgraded", "removed", "upgraded", "added", "rebuilt"].map(
          (kind) => `${report.changes.filter((c) => c.kind === kind).length} ${kind}`,
        );
        process.stdout.write(
          `${flags.out}: ${flags.flavour}: ${counts.join(", ")}, ${report.unchanged} unchanged\n`,
        );
        if (flags.summary)
          await appendFile(flags.summary, packageDiffComment([report], "of this pull request"));
        const failures = downgradeFailures(report);
        for (const failure of failures) process.stdout.write(`FAIL [unasked_downgrade] ${failure}\n`);
        if (failures.length > 0) process.exitCode = EXIT_CODES.usageError;
      },
    );

  runtime
    .command("diff-comment")
    .description(
      "post or update the package diff comment of a pull request from the diff artifacts of its run (read as untrusted data); GITHUB_TOKEN and GITHUB_API_URL from the environment",
    )
    .requiredOption("--artifacts <dir>", "the downloaded package-diff-* artifacts")
    .requiredOption("--repository <owner/repo>", "the base repository")
    .requiredOption("--head-owner <login>", "the owner of the run's head repository (a fork's owner)")
    .requiredOption("--head-branch <branch>", "the run's head branch")
    .requiredOption("--head-sha <sha>", "the run's head commit")
    .requiredOption("--run-url <url>", "the run the artifacts came from")
    .option("--author <login>", "who the earlier comment must be by", "github-actions[bot]")
    .action(
      async (flags: {
        artifacts: string;
        repository: string;
        headOwner: string;
        headBranch: string;
        headSha: string;
        runUrl: string;
        author: string;
      }) => {
        const { packageDiffComment, PACKAGE_DIFF_MARKER, readPackageDiffReports, PackageDiffArtifactError } =
          await import("../runtime/index.js");
        const { createGitHubClient, findPullRequestByHead, upsertMarkedComment } =
          await import("../github/index.js");
        const [owner, repo, extra] = flags.repository.split("/");
        if (!owner || !repo || extra !== undefined) return usage(`--repository must be owner/repo`);
        if (!/^https:\/\/[^\s<>()[\]]+$/.test(flags.runUrl)) return usage(`--run-url must be an https URL`);
        const token = process.env.GITHUB_TOKEN;
        if (!token) return usage(`GITHUB_TOKEN must be set (the job's token, pull-requests: write)`);
        let reports;
        try {
          reports = await readPackageDiffReports(flags.artifacts);
        } catch (error) {
          if (!(error instanceof PackageDiffArtifactError)) throw error;
          return refuse(`the run's package-diff artifact is refused: ${error.message}`);
        }
        if (reports[0]!.headSha !== flags.headSha)
          return refuse(
            `the package diff names commit ${reports[0]!.headSha} but the run ran on ${flags.headSha}: not posted`,
          );
        const client = createGitHubClient({
          token,
          ...(process.env.GITHUB_API_URL && { baseUrl: process.env.GITHUB_API_URL }),
        });
        const pr = await findPullRequestByHead(client, {
          owner,
          repo,
          headOwner: flags.headOwner,
          headBranch: flags.headBranch,
          headSha: flags.headSha,
        });
        if (pr === null) {
          process.stdout.write(
            `no open pull request of ${owner}/${repo} has ${flags.headOwner}:${flags.headBranch} at ${flags.headSha} (closed, or pushed to since): nothing to comment on\n`,
          );
          return;
        }
        if (reports[0]!.pullRequest !== pr)
          return refuse(
            `the package diff names pull request #${reports[0]!.pullRequest}, but the run's commit is the head of #${pr}: not posted`,
          );
        const { action, id } = await upsertMarkedComment(client, {
          owner,
          repo,
          issueNumber: pr,
          marker: PACKAGE_DIFF_MARKER,
          author: flags.author,
          body: packageDiffComment(reports, flags.runUrl),
        });
        process.stdout.write(`${action} comment ${id} on ${owner}/${repo}#${pr}\n`);
      },
    );

  runtime
    .command("record")
    .description(
      "write the record of one pushed runtime image (its digest, lock and SBOM digests), for record-published",
    )
    .requiredOption("--flavour <flavour>", "cpu or gpu")
    .requiredOption("--image <ref>", "the pushed reference")
    .requiredOption("--digest <digest>", "the pushed image's digest (sha256:…)")
    .requiredOption("--commit <sha>", "the commit it was built from")
    .option("--size <bytes>", "the image's size")
    .option("--root <dir>", "the repository root (the lock is read from runtime/lock/)", ".")
    .option("--sbom <file>", "the image's SBOM (CycloneDX JSON)")
    .option("--signed-with <tool>", "cosign, when the digest was signed")
    .requiredOption("--out <file>", "where the record goes")
    .action(
      async (flags: {
        flavour: string;
        image: string;
        digest: string;
        commit: string;
        size?: string;
        root: string;
        sbom?: string;
        signedWith?: string;
        out: string;
      }) => {
        const { lockPath, publishedImageSchema, sha256File } = await import("../runtime/index.js");
        const { loadModels, modelsImageRef } = await import("../runtime/models.js");
        if (flags.flavour !== "cpu" && flags.flavour !== "gpu") return usage(`--flavour must be cpu or gpu`);
        const lock = lockPath(flags.flavour);
        // The models image the workflow publishes beside it, from runtime/models.yml at this commit.
        const modelsFile = path.join(flags.root, "runtime", "models.yml");
        const models = existsSync(modelsFile) ? await loadModels(modelsFile) : null;
        const repository = flags.image.replace(/:[^:/]+$/, "");
        const parsed = publishedImageSchema.safeParse({
          flavour: flags.flavour,
          image: flags.image,
          digest: flags.digest,
          commit: flags.commit,
          publishedAt: new Date().toISOString(),
          sizeBytes: flags.size ? Number(flags.size) : null,
          lock: { path: lock, sha256: await sha256File(path.join(flags.root, lock)) },
          sbom: flags.sbom ? { path: path.basename(flags.sbom), sha256: await sha256File(flags.sbom) } : null,
          signedWith: flags.signedWith ?? null,
          models:
            models && models.files.length > 0
              ? {
                  digest: `sha256:${models.digest}`,
                  image: modelsImageRef(repository, models.digest),
                  files: models.files.length,
                }
              : null,
        });
        if (!parsed.success)
          return usage(parsed.error.issues.map((i) => `--${i.path[0]?.toString()}: ${i.message}`).join("; "));
        await mkdir(path.dirname(flags.out), { recursive: true });
        await writeFile(flags.out, `${JSON.stringify(parsed.data, null, 2)}\n`);
        process.stdout.write(`${flags.out}: ${parsed.data.image}@${parsed.data.digest}\n`);
      },
    );

  runtime
    .command("record-published")
    .description("add image records (from runtime record) to runtime/published.json")
    .argument("<records...>", "record files")
    .option("--file <file>", "the record of published images", "runtime/published.json")
    .action(async (records: string[], flags: { file: string }) => {
      const { addPublished, publishedImageSchema, readPublished, writePublished } =
        await import("../runtime/index.js");
      const images = [];
      for (const file of records) {
        let raw: unknown;
        try {
          raw = JSON.parse(await readFile(file, "utf8"));
        } catch {
          raw = undefined;
        }
        const parsed = publishedImageSchema.safeParse(raw);
        if (!parsed.success)
          return usage(`${file} is not an image record (make it with proctor runtime record)`);
        images.push(parsed.data);
      }
      await writePublished(flags.file, addPublished(await readPublished(flags.file), images));
      for (const image of images)
        process.stdout.write(`${flags.file}: ${image.flavour} ${image.image}@${image.digest}\n`);
    });
}

function usage(message: string): void {
  process.stderr.write(`proctor runtime: ${message}\n`);
  process.exitCode = EXIT_CODES.usageError;
}

/** Untrusted data refused: said on stdout (the job log) without repeating it, and the step fails. */
function refuse(message: string): void {
  process.stdout.write(`REFUSED ${message}\n`);
  process.exitCode = EXIT_CODES.participantFailure;
}
