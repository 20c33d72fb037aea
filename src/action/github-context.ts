import { readFile } from "node:fs/promises";

/** What the runner tells every step about where it runs (environment variables and the event file). */
export interface GitHubContext {
  owner: string;
  repo: string;
  sha: string;
  eventName: string;
  event: Record<string, unknown>;
  serverUrl: string;
  apiUrl: string;
  runUrl: string | null;
  workspace: string;
}

export async function githubContext(env: NodeJS.ProcessEnv = process.env): Promise<GitHubContext> {
  const [owner = "", repo = ""] = (env.GITHUB_REPOSITORY ?? "/").split("/");
  let event: Record<string, unknown> = {};
  if (env.GITHUB_EVENT_PATH) {
    event = JSON.parse(await readFile(env.GITHUB_EVENT_PATH, "utf8").catch(() => "{}")) as Record<
      string,
      unknown
    >;
  }
  const serverUrl = env.GITHUB_SERVER_URL ?? "https://github.com";
  return {
    owner,
    repo,
    sha: env.GITHUB_SHA ?? "unknown",
    eventName: env.GITHUB_EVENT_NAME ?? "",
    event,
    serverUrl,
    apiUrl: env.GITHUB_API_URL ?? "https://api.github.com",
    runUrl: env.GITHUB_RUN_ID ? `${serverUrl}/${owner}/${repo}/actions/runs/${env.GITHUB_RUN_ID}` : null,
    workspace: env.GITHUB_WORKSPACE ?? process.cwd(),
  };
}

/** The pull request number of a pull_request event, else null. */
export function pullRequestNumber(context: GitHubContext): number | null {
  const pr = context.event.pull_request as { number?: number } | undefined;
  return context.eventName.startsWith("pull_request") && typeof pr?.number === "number" ? pr.number : null;
}
