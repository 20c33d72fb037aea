/**
 * One error type for everything that goes wrong talking to GitHub, with a message that names the
 * operation, what GitHub answered, and what to do about it.
 */

export class GitHubError extends Error {
  override name = "GitHubError";
  constructor(
    message: string,
    /** The HTTP status GitHub answered, when it answered. */
    readonly status: number | undefined,
    /** What we were doing, e.g. `dispatching "submission" to o/r`. */
    readonly operation: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The shape of an Octokit RequestError that we rely on (duck-typed: no import of @octokit/request-error). */
interface RequestErrorLike {
  status: number;
  message: string;
  response?: { headers?: Record<string, string | number | undefined>; data?: unknown };
}

export function isRequestError(error: unknown): error is RequestErrorLike {
  return error instanceof Error && typeof (error as { status?: unknown }).status === "number";
}

/** The status of a RequestError, or undefined. */
export function statusOf(error: unknown): number | undefined {
  return isRequestError(error) ? error.status : undefined;
}

/** GitHub's own `message` from the error body, without Octokit's " - documentation_url" suffix. */
export function gitHubMessage(error: unknown): string {
  if (isRequestError(error)) {
    const data = error.response?.data;
    if (
      typeof data === "object" &&
      data !== null &&
      typeof (data as { message?: unknown }).message === "string"
    ) {
      const body = data as { message: string; errors?: unknown };
      const details = Array.isArray(body.errors)
        ? body.errors
            .map((e) =>
              typeof e === "object" && e !== null && typeof (e as { message?: unknown }).message === "string"
                ? (e as { message: string }).message
                : JSON.stringify(e),
            )
            .join("; ")
        : "";
      return details ? `${body.message}: ${details}` : body.message;
    }
    if (typeof data === "string" && data.length > 0) return data.slice(0, 500);
  }
  return error instanceof Error ? error.message : String(error);
}

function header(error: RequestErrorLike, name: string): string | undefined {
  const value = error.response?.headers?.[name];
  return value === undefined ? undefined : String(value);
}

export interface ErrorContext {
  /** What we were doing, e.g. `setting commit status "proctor" on o/r@abc123`. */
  operation: string;
  /** owner/repo, for the 404 and 403 hints. */
  repository?: string;
  /** The fine-grained token permission the call needs, e.g. "contents: write". */
  permission?: string;
  /** What a 404 most likely means for this call (default: the repository or resource does not exist). */
  notFound?: string;
}

/**
 * Wraps any error thrown by an Octokit call into a `GitHubError` whose message says what failed and what
 * to do. A `GitHubError` passes through unchanged.
 */
export function toGitHubError(error: unknown, context: ErrorContext): GitHubError {
  if (error instanceof GitHubError) return error;
  const { operation } = context;
  if (!isRequestError(error)) {
    return new GitHubError(
      `${operation} failed: ${error instanceof Error ? error.message : String(error)}`,
      undefined,
      operation,
      { cause: error },
    );
  }
  const status = error.status;
  const said = gitHubMessage(error);
  const repo = context.repository ?? "the repository";
  let advice: string;
  if (status === 401) {
    advice =
      `GitHub rejected the token (401 ${said}). Check the token: it must be set (e.g. the GITHUB_TOKEN or ` +
      `the secret you pass in), not expired or revoked, and meant for this GitHub host`;
  } else if (status === 403 && header(error, "x-ratelimit-remaining") === "0") {
    const reset = Number(header(error, "x-ratelimit-reset"));
    const when = Number.isFinite(reset) && reset > 0 ? new Date(reset * 1000).toISOString() : "later";
    advice =
      `the GitHub API rate limit for this token is exhausted (403 ${said}); it resets at ${when}. ` +
      `Retry after that, or use a token with a higher limit (e.g. a GitHub App installation token)`;
  } else if ((status === 403 || status === 429) && /secondary rate limit|abuse/i.test(said)) {
    advice =
      `GitHub's secondary rate limit stopped the request (${status} ${said}) and retrying did not get ` +
      `through; slow down (fewer concurrent jobs) and retry in a few minutes`;
  } else if (status === 429) {
    advice = `GitHub is rate limiting this token (429 ${said}); retry in a few minutes`;
  } else if (status === 403) {
    advice =
      `GitHub refused the request (403 ${said}). The token lacks permission on ${repo}` +
      (context.permission ? `: it needs "${context.permission}"` : "") +
      ` (for GITHUB_TOKEN, grant it in the workflow's \`permissions:\` block)`;
  } else if (status === 404) {
    advice =
      `GitHub answered 404 (${said}): ${context.notFound ?? `${repo} or the resource does not exist`}, ` +
      `or the token cannot see ${repo} (GitHub answers 404, not 403, to a token without access to a ` +
      `private repository)`;
  } else if (status >= 500 && error.response === undefined) {
    advice = `could not reach GitHub (${said}); check the network and the API base URL`;
  } else if (status >= 500) {
    advice = `GitHub answered ${status} (${said}) and kept failing after retries; try again later`;
  } else {
    advice = `GitHub answered ${status}: ${said}`;
  }
  return new GitHubError(`${operation} failed: ${advice}`, status, operation, { cause: error });
}

/** Runs `call` and rethrows whatever it throws as a `GitHubError` with `context`. */
export async function withContext<T>(context: ErrorContext, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw toGitHubError(error, context);
  }
}

/** A required text argument: non-empty, else the caller's own error type naming the argument. */
export function requireText(what: string, value: unknown, fail: new (message: string) => Error): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new fail(`${what} must be a non-empty string, got ${JSON.stringify(value)}`);
  }
  return value;
}
