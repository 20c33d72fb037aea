/**
 * The gateway's pages, rendered on the server: landing (rules and timeline), sign-in, submit, my
 * submissions (a live region), the leaderboard, the organizer's queue and one submission as the organizer
 * reads it. Every value reaches the page through `markup`, which escapes it. Pure functions of what the
 * routes pass in.
 */
import { logVisibility, phaseLimits, submissionLimits, type Competition } from "../../config/index.js";
import {
  describeQueuePlace,
  type DurationSummary,
  type PublicStatusView,
  type QuotaView,
  type SubmissionView,
} from "../../gateway-api/index.js";
import type { OrganizerSubmission, QueueRow } from "../../intake/index.js";
import { phaseAt, uploadWindow, type LifecyclePhase } from "../../lifecycle/index.js";
import { formatScore, type Standings } from "../../leaderboard/index.js";
import { DEFAULT_IMAGE_LIMITS, DEFAULT_ZIP_LIMITS } from "../../submission/index.js";
import { formatBytes, formatDuration } from "../../units/index.js";
import { metricName as scoreName } from "../../scoring/metric-name.js";
import { renderSparklineSvg } from "../../sandbox/sparkline.js";
import { markup, trusted, type Html } from "./html.js";

export interface Viewer {
  kind: "participant" | "admin";
  holder: string;
}

export interface PageContext {
  competition: Competition;
  now: Date;
  viewer: Viewer | undefined;
  /** A CSRF token for the forms of this page (sign-out included). */
  csrf: string;
  /** Which navigation entry is this page. */
  current?: "home" | "submit" | "submissions" | "leaderboard" | "status" | "admin" | "signin";
}

const when = (iso: string | Date | null | undefined) =>
  iso
    ? new Date(iso)
        .toISOString()
        .replace("T", " ")
        .replace(/:\d\d(\.\d+)?Z$/, " UTC")
    : "—";

function metricName(c: Competition): string {
  return scoreName(c.scoring.metric);
}

function direction(c: Competition): string {
  return c.scoring.direction === "higher" ? "higher is better" : "lower is better";
}

export function layout(ctx: PageContext, title: string, body: Html): Html {
  const nav = (href: string, key: PageContext["current"], label: string) =>
    markup`<li><a href="${href}" ${ctx.current === key ? markup` aria-current="page"` : ""}>${label}</a></li>`;
  const who = ctx.viewer;
  return markup`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title === ctx.competition.name ? title : `${title} — ${ctx.competition.name}`}</title>
        <link rel="stylesheet" href="/assets/app.css" />
        <script src="/assets/app.js" defer></script>
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header class="site">
          <a class="brand" href="/">${ctx.competition.name}</a>
          <nav aria-label="Main">
            <ul>
              ${nav("/", "home", "Rules")} ${nav("/leaderboard", "leaderboard", "Leaderboard")}
              ${nav("/status", "status", "Status")}
              ${who?.kind === "participant" ? [nav("/submit", "submit", "Submit"), nav("/submissions", "submissions", "My submissions")] : ""}
              ${who?.kind === "admin" ? nav("/admin", "admin", "Queue (organizer)") : ""}
              ${who ? "" : nav("/signin", "signin", "Sign in")}
            </ul>
          </nav>
          ${
            who
              ? markup`<form method="post" action="/signout">
                  <input type="hidden" name="_csrf" value="${ctx.csrf}" />
                  <span class="muted"
                    >Signed in as
                    <strong>${who.holder}</strong>${who.kind === "admin" ? " (organizer)" : ""}</span
                  >
                  <button type="submit" class="link">Sign out</button>
                </form>`
              : ""
          }
        </header>
        <main id="main" tabindex="-1">
          <h1>${title}</h1>
          ${body}
        </main>
        <footer>
          Runs are sandboxed with no network; scores are rounded to ${ctx.competition.scoring.precision}
          decimals.
        </footer>
      </body>
    </html>`;
}

/** A phase's submission limits (its own, else the leaderboard's), and its cap on runs under way, in words. */
function describeLimits(c: Competition, phase: LifecyclePhase | undefined): string {
  const { dailyLimit: daily, totalLimit: total, maxActiveRuns: active } = submissionLimits(c, phase);
  return [
    daily === null ? "no daily limit" : `${daily} per day (UTC)`,
    total === null ? "no total limit" : `${total} in all`,
    ...(active === null ? [] : [`at most ${active} queued or running at once`]),
  ].join(", ");
}

function timeline(c: Competition, now: Date): Html {
  const l = c.lifecycle;
  const window = uploadWindow(l, now);
  const current = phaseAt(l, now);
  return markup`<dl class="timeline">
      <dt>Opens</dt>
      <dd>${l.start ? when(l.start) : "open now"}</dd>
      <dt>Closes</dt>
      <dd>${l.end ? when(l.end) : "no end date set"}</dd>
      <dt>Now</dt>
      <dd>
        ${window.open ? (current ? markup`open: <strong>${current.title}</strong>` : "open") : window.reason}
      </dd>
    </dl>
    ${
      l.phases.length > 0
        ? markup`<h3>Phases</h3>
            <ol class="phases">
              ${l.phases.map(
                (p) =>
                  markup`<li${p === current ? markup` aria-current="step"` : ""}>${p.title}${p.final ? " (final: its entries decide the final ranking)" : ""}: ${when(p.start)} to ${when(p.end)}${p === current ? " (current)" : ""}; ${describeLimits(c, p)}; logs shown: ${logVisibility(c, p.name)}; <a href="/leaderboard?phase=${p.name}">its leaderboard</a></li>`,
              )}
            </ol>`
        : ""
    }`;
}

export function landingPage(ctx: PageContext): Html {
  const c = ctx.competition;
  const paragraphs = c.lifecycle.description.split(/\n\s*\n/).filter((p) => p.trim());
  const lb = c.leaderboard;
  const fs = c.lifecycle.finalSelection;
  const window = uploadWindow(c.lifecycle, ctx.now);
  const current = phaseAt(c.lifecycle, ctx.now);
  const next = c.lifecycle.phases.find((p) => p.start > ctx.now);
  // The current phase's run limits (a phase may set its own).
  const limits = phaseLimits(c, current?.name ?? "");
  // After the end, not before the start: then Submit leads to a page that says when uploads open.
  const closedForGood = !window.open && window.opensAt === null;
  return layout(
    ctx,
    c.name,
    markup`${paragraphs.map((p) => markup`<p>${p.trim()}</p>`)}
      ${
        closedForGood
          ? markup`<p class="notice" role="status" id="closed">
                Submissions closed at ${when(c.lifecycle.end)}: the competition takes no more entries.
              </p>
              <p><a href="/leaderboard">See the leaderboard</a></p>`
          : markup`<p>
              <a class="button" href="${ctx.viewer?.kind === "participant" ? "/submit" : "/signin"}">Submit</a>
              <a href="/leaderboard">See the leaderboard</a>
            </p>`
      }
      <section aria-labelledby="timeline">
        <h2 id="timeline">Timeline</h2>
        ${timeline(c, ctx.now)}
      </section>
      <section aria-labelledby="rules">
        <h2 id="rules">Rules</h2>
        <ul>
          <li>
            Metric: <strong>${metricName(c)}</strong> (${direction(c)}), rounded to ${c.scoring.precision}
            decimals.
          </li>
          <li>
            Leaderboard: each participant's ${lb.selection === "best" ? "best" : "latest"} scored entry; ties
            go to the earlier submission.
          </li>
          <li>
            Final (private) leaderboard:
            ${fs.mode === "best" ? `your best ${fs.count} entr${fs.count === 1 ? "y is" : "ies are"} used automatically` : `you pick up to ${fs.count} entr${fs.count === 1 ? "y" : "ies"}; without a pick your best ${fs.count === 1 ? "is" : "are"} used`}.
          </li>
          <li>
            Submissions${current ? ` in this phase (${current.title})` : ""}: ${describeLimits(c, current)};
            ${lb.countFailed ? "failed runs count" : "only successful runs count"}; infrastructure errors and
            submissions cancelled before a runner started them never
            do.${c.lifecycle.phases.length > 1 ? " Each phase has its own limits and leaderboard: entries of one never count in another." : ""}${next ? ` Next: ${next.title} from ${when(next.start)} (${describeLimits(c, next)}).` : ""}
          </li>
          <li>
            Each run: ${formatDuration(limits.timeLimitMs)} wall clock, ${formatBytes(limits.memoryBytes)}
            memory, ${limits.cpus} CPUs, no network; ${uploadKind(c).plural} up to
            ${formatBytes(uploadKind(c).maxBytes)}.
          </li>
          <li>Runners: ${c.runners.join(" and ")}.</li>
        </ul>
      </section>`,
  );
}

export function signInPage(ctx: PageContext, error?: string): Html {
  return layout(
    ctx,
    "Sign in",
    markup`<p>
        Sign in with the token the organizers gave you (it starts with <code>pct_</code>; organizers:
        <code>pad_</code>). It is kept only as a session cookie on this browser; sign out to end the session.
      </p>
      <form method="post" action="/signin" class="card">
        <div class="alert" role="alert" tabindex="-1" id="signin-error">${error ?? ""}</div>
        <input type="hidden" name="_csrf" value="${ctx.csrf}" />
        <label for="token">Token</label>
        <input
          type="password"
          id="token"
          name="token"
          autocomplete="current-password"
          required
          spellcheck="false"
          ${error ? markup` aria-invalid="true" aria-describedby="signin-error"` : ""}
        />
        <p><button type="submit">Sign in</button></p>
      </form>`,
  );
}

function quotaText(q: QuotaView): string {
  const today =
    q.daily_limit === null
      ? `${q.used_today} today (no daily limit)`
      : `${q.remaining_today} of ${q.daily_limit} left today`;
  const total =
    q.total_limit === null ? "no total limit" : `${q.remaining_total} of ${q.total_limit} left in all`;
  return `${today}; ${total}${q.resets_at ? `; the daily count resets at ${when(q.resets_at)}` : ""}.`;
}

export function submitPage(
  ctx: PageContext,
  quota: QuotaView,
  closed: string | undefined,
  error?: string,
): Html {
  const c = ctx.competition;
  const kind = uploadKind(c);
  const max = kind.image ? kind.maxBytes : c.zipLimits.maxZipBytes;
  const action = `/submit?_csrf=${encodeURIComponent(ctx.csrf)}`;
  return layout(
    ctx,
    "Submit",
    markup`<p class="notice" id="quota">${quotaText(quota)}</p>
      ${closed ? markup`<p class="alert" role="status">${closed}</p>` : ""}
      <form
        method="post"
        action="${action}"
        enctype="multipart/form-data"
        class="card"
        data-upload="/submit"
        data-csrf="${ctx.csrf}"
      >
        <div class="alert" role="alert" tabindex="-1" id="upload-error">${error ?? ""}</div>
        ${
          c.runners.length > 1
            ? markup`<fieldset>
                <legend>Run on</legend>
                ${c.runners.map(
                  (k, i) =>
                    markup`<label
                      ><input type="radio" name="cpu_or_gpu" value="${k}" ${i === 0 ? markup` checked` : ""} />
                      ${k.toUpperCase()}</label
                    >`,
                )}
              </fieldset>`
            : markup`<input type="hidden" name="cpu_or_gpu" value="${c.runners[0] ?? "cpu"}" />`
        }
        <label for="note">Note (optional, only you see it)</label>
        <textarea id="note" name="note" rows="2" maxlength="500"></textarea>
        <label for="submission">${kind.label}${max ? ` (at most ${formatBytes(max)})` : ""}</label>
        <input
          type="file"
          id="submission"
          name="submission"
          accept="${kind.accept}"
          required
          aria-describedby="zip-help"
        />
        <p id="zip-help" class="muted">
          ${
            kind.image
              ? markup`Save it with <code>docker save my-algorithm | gzip -c &gt; algorithm.tar.gz</code> and test it
                  with <code>make test-submission SUBMISSION=algorithm.tar.gz</code> first: the same checks, run
                  and limits.`
              : markup`Pack it with <code>proctor pack</code> and test it with <code>make test-submission</code>
                  first: the same run, image and limits.`
          }
        </p>
        ${
          kind.image
            ? markup`<label for="model">Model tarball (model.tar.gz, optional)</label>
              <input
                type="file"
                id="model"
                name="model"
                accept=".tar,.gz,.tgz,application/x-tar,application/gzip"
                aria-describedby="model-help"
              />
              <p id="model-help" class="muted">
                Shown to your algorithm read-only at <code>/opt/ml/model</code>. Make it with
                <code>tar -czf model.tar.gz -C model .</code> (files and folders only, no links).
              </p>`
            : ""
        }
        <progress max="100" value="0" hidden aria-label="Upload progress"></progress>
        <p data-progress-text aria-live="polite" class="muted"></p>
        <p><button type="submit" ${closed ? markup` disabled` : ""}>Upload</button></p>
      </form>`,
  );
}

/** What participants upload: a zip, or their own image saved with docker save (submission.kind). */
function uploadKind(c: Competition) {
  if (c.submission.kind === "image") {
    return {
      image: true,
      plural: "image archives",
      label: "Image archive (docker save)",
      accept: ".tar,.gz,.tgz,application/x-tar,application/gzip",
      maxBytes: c.submission.image.limits.maxArchiveBytes ?? DEFAULT_IMAGE_LIMITS.maxArchiveBytes,
    };
  }
  return {
    image: false,
    plural: "zips",
    label: "Submission zip",
    accept: ".zip,application/zip",
    maxBytes: c.zipLimits.maxZipBytes ?? DEFAULT_ZIP_LIMITS.maxZipBytes,
  };
}

/**
 * The current attempt's state and, where it differs, the standing result (what the score column and the
 * leaderboard show): a re-run under way, cancelled or failed leaves the earlier result standing.
 */
function outcome(v: SubmissionView): Html {
  const good = v.status === "succeeded";
  // The organizers' scorer failed: theirs to fix and re-score (the details say so).
  const label = v.status === "scorer_failed" ? "waiting for the organizers" : v.status;
  const standing = markup`<span class="${good ? "state-final-succeeded" : "state-final-failed"}">${label}</span>`;
  // The current attempt ended without taking the standing place: it is among the other attempts.
  const current = v.earlier_attempts.find((a) => a.attempt === v.attempt);
  if (v.state === "final" && !current) return standing;
  const now =
    v.state === "cancelled"
      ? markup`cancelled`
      : current
        ? markup`attempt ${v.attempt}: ${current.status}`
        : markup`<strong>${v.state}</strong>`;
  return v.status === null
    ? now
    : markup`${now}<br /><span data-cell="standing">standing: ${standing}</span>`;
}

/** Where a queued or running submission stands (its place and wait, or its runner). */
function queuePlace(v: SubmissionView): Html | string {
  const place = describeQueuePlace(v, when);
  return place ? markup`<br /><span class="muted" data-cell="queue">${place}</span>` : "";
}

function submissionRow(v: SubmissionView, competition: Competition, csrf: string): Html {
  const precision = competition.scoring.precision;
  const choosing = competition.lifecycle.finalSelection.mode === "chosen";
  const choice =
    choosing && v.status === "succeeded" && !v.disqualified
      ? markup`<form method="post" action="/submissions/${v.submission_id}/choice">
          <input type="hidden" name="_csrf" value="${csrf}" /><input type="hidden" name="chosen" value="${v.chosen ? "false" : "true"}" />
          <button type="submit" class="secondary" aria-pressed="${v.chosen ? "true" : "false"}" aria-label="Count for the final: submission ${v.submission_id}">${v.chosen ? "Counted for the final ✓" : "Count for the final"}</button>
        </form>`
      : "";
  const logs =
    v.logs.visibility === "none"
      ? markup`<p class="muted">Logs are not shown in this phase.</p>`
      : markup`${
          v.logs.stdout
            ? markup`<h4>stdout</h4>
                <pre>${v.logs.stdout}</pre>`
            : ""
        }${
          v.logs.stderr
            ? markup`<h4>stderr</h4>
                <pre>${v.logs.stderr}</pre>`
            : ""
        }${!v.logs.stdout && !v.logs.stderr ? markup`<p class="muted">No output.</p>` : ""}`;
  const detailsId = `details-${v.submission_id}`;
  return markup`<tr id="${v.submission_id}" data-state="${v.state}">
    <td>
      <span class="id">${v.submission_id}</span
      >${v.note ? markup`<br /><span class="muted">${v.note}</span>` : ""}
    </td>
    <td class="wide">${when(v.submitted_at)}</td>
    <td data-cell="status">
      ${outcome(v)}${queuePlace(v)}${v.disqualified ? markup`<br />disqualified: ${v.disqualified}` : ""}
    </td>
    <td class="num" data-cell="score">
      ${v.public_score === null ? "—" : formatScore(v.public_score, precision)}
    </td>
    <td class="wide">${v.duration_ms === null ? "—" : formatDuration(v.duration_ms)}</td>
    <td>
      ${
        v.status !== null
          ? "" // a re-run by the organizers: theirs to cancel
          : v.state === "queued"
            ? markup`<form method="post" action="/submissions/${v.submission_id}/cancel">
              <input type="hidden" name="_csrf" value="${csrf}" /><button
                type="submit"
                class="secondary"
                aria-label="Cancel submission ${v.submission_id}"
              >
                Cancel
              </button>
            </form>`
            : v.state === "running"
              ? markup`<details class="confirm">
                <summary>Cancel…</summary>
                <p>A runner has started it: cancelling stops it now, and it still counts toward your limits.</p>
                <form method="post" action="/submissions/${v.submission_id}/cancel">
                  <input type="hidden" name="_csrf" value="${csrf}" /><button
                    type="submit"
                    class="secondary"
                    aria-label="Cancel submission ${v.submission_id}, counted"
                  >
                    Cancel the run (counts)
                  </button>
                </form>
              </details>`
              : ""
      }${choice}
      <details id="${detailsId}">
        <summary>Details</summary>
        <p>${v.reason ?? "Waiting for a runner."}</p>
        <p class="muted">
          Submitted ${when(v.submitted_at)}; ${v.cpu_or_gpu}${v.phase ? `, ${v.phase}` : ""}, attempt ${v.attempt}, started
          ${when(v.started_at)}, finished ${when(v.finished_at)}
        </p>
        ${
          v.problems.length > 0
            ? markup`<ul>
                ${v.problems.map((p) => markup`<li>${p}</li>`)}
              </ul>`
            : ""
        }
        ${
          v.earlier_attempts.length > 0
            ? markup`<h4>Other attempts</h4>
                <ul data-cell="attempts">
                  ${v.earlier_attempts.map((a) => markup`<li>attempt ${a.attempt}: ${a.status} (${a.reason})</li>`)}
                </ul>`
            : ""
        }
        ${usageSection(v)}${
          v.results_json === null
            ? ""
            : markup`<h4>results.json</h4>
                <pre>${v.results_json}</pre>`
        }${logs}
      </details>
    </td>
  </tr>`;
}

/** What the run used: runtime, peaks and a chart of memory (blue) and CPU (red) over time. */
function usageSection(v: SubmissionView): Html | string {
  const usage = v.usage;
  if (!usage) return "";
  const samples = usage.samples.map((p) => ({
    tMs: p.t_ms,
    memoryBytes: p.memory_bytes,
    cpu: p.cpu_cores,
    pids: 0,
  }));
  // Only numbers reach the SVG (renderSparklineSvg), so it is markup of ours, not input.
  const chart = trusted(
    renderSparklineSvg(samples, { memoryLimitBytes: usage.memory_limit_bytes, cpus: usage.cpus }),
  );
  return markup`<h4>Resources</h4>
    <p class="muted">
      ${usage.runtime}; peak memory ${usage.peak_memory_bytes === null ? "—" : formatBytes(usage.peak_memory_bytes)}
      of ${formatBytes(usage.memory_limit_bytes)}; CPU time
      ${usage.cpu_seconds === null ? "—" : `${usage.cpu_seconds} s`}
    </p>
    <figure class="usage">${chart}</figure>`;
}

/** The live region of "My submissions": rendered whole on the page and alone for each refresh. */
export function submissionsRegion(
  submissions: SubmissionView[],
  quota: QuotaView,
  competition: Competition,
  csrf: string,
): Html {
  const active = submissions.filter((s) => s.state === "queued" || s.state === "running").length;
  return markup`<div id="live" data-live="/submissions/live" data-active="${active > 0 ? "true" : "false"}">
    <p class="notice" id="quota">${quotaText(quota)}</p>
    <p id="live-status" role="status" aria-live="polite">
      ${active > 0 ? `${active} submission${active === 1 ? "" : "s"} waiting or running; this page updates by itself.` : "Nothing waiting or running."}
    </p>
    <div class="table-wrap">
      <table id="submissions">
        <caption>
          Your submissions, newest first
        </caption>
        <thead>
          <tr>
            <th scope="col">Submission</th>
            <th scope="col" class="wide">Submitted</th>
            <th scope="col">Status</th>
            <th scope="col" class="num">Score</th>
            <th scope="col" class="wide">Duration</th>
            <th scope="col">More</th>
          </tr>
        </thead>
        <tbody>
          ${
            submissions.length === 0
              ? markup`<tr>
                  <td colspan="6">No submissions yet: <a href="/submit">submit one</a>.</td>
                </tr>`
              : submissions.map((s) => submissionRow(s, competition, csrf))
          }
        </tbody>
      </table>
    </div>
  </div>`;
}

export function submissionsPage(ctx: PageContext, region: Html, flash?: string): Html {
  return layout(
    ctx,
    "My submissions",
    markup`${flash ? markup`<p class="notice" role="status">${flash}</p>` : ""}${region}`,
  );
}

/** What the leaderboard page shows besides the standings. */
export interface BoardView {
  /** Submissions queued or running (the public board says their scores are on the way). */
  active: number;
  /** Whether the reveal has published the final ranking (the public board links to it). */
  revealed: boolean;
  /** The phase whose entries these are; absent where competition.yml names no phases. */
  phase?: LifecyclePhase | undefined;
}

/**
 * The public standings of one phase (with links to the other phases' boards), or (mode private) the final
 * ranking the reveal published.
 */
export function leaderboardPage(ctx: PageContext, standings: Standings, view: BoardView): Html {
  const c = ctx.competition;
  const { active, revealed, phase } = view;
  const me = ctx.viewer?.kind === "participant" ? ctx.viewer.holder : undefined;
  const ranked = standings.rows.filter((r) => r.rank !== null).length;
  const final = standings.mode === "private";
  const phases = c.lifecycle.phases;
  const nav =
    !final && phases.length > 1
      ? markup`<nav aria-label="Phases"><ul class="phase-boards">${phases.map((p) =>
          p === phase
            ? markup`<li aria-current="page"><strong>${p.title}</strong></li>`
            : markup`<li><a href="/leaderboard?phase=${p.name}">${p.title}</a></li>`,
        )}</ul></nav>`
      : "";
  const intro = final
    ? markup`<p>
        Metric: <strong>${metricName(c)}</strong> (${direction(c)}). The final ranking: private scores, on the
        hidden part of the test set, of each participant's selected entries. <a href="/leaderboard">Public leaderboard</a>
      </p>`
    : markup`${nav}<p>
        ${phase ? markup`Phase: <strong>${phase.title}</strong>${phase.final ? " (final)" : " (its entries never count in the final ranking)"}. ` : ""}Metric: <strong>${metricName(c)}</strong> (${direction(c)}). Public scores, on part of the test set;
        the final ranking uses the private part${phase && !phase.final ? " of the final phase's entries" : ""} and ${revealed ? markup`<a href="/leaderboard?board=private">has been revealed</a>` : "is revealed at the end"}.
      </p>
      <p role="status">
        ${active > 0 ? `${active} submission${active === 1 ? " is" : "s are"} queued or running: ${active === 1 ? "its score appears" : "their scores appear"} here when ${active === 1 ? "it finishes" : "they finish"}.` : "No submissions are waiting."}
      </p>`;
  return layout(
    ctx,
    final ? "Final ranking" : "Leaderboard",
    markup`${intro}
      <div class="table-wrap">
        <table id="leaderboard">
          <caption>
            ${standings.rows.length === 0 ? "No scored submissions yet." : `${ranked} ranked of ${standings.rows.length} participants`}
          </caption>
          <thead>
            <tr>
              <th scope="col" class="num">Rank</th>
              <th scope="col">Participant</th>
              <th scope="col" class="num">Score (${metricName(c)})</th>
              <th scope="col" class="num wide">Entries</th>
              <th scope="col" class="wide">Last submission</th>
            </tr>
          </thead>
          <tbody>
            ${standings.rows.map(
              (r) =>
                markup`<tr${r.participant === me ? markup` class="mine" aria-current="true"` : ""}><td class="num">${r.rank ?? "—"}</td><th scope="row">${r.participant}${r.participant === me ? " (you)" : ""}</th><td class="num">${r.score === null ? "no score" : r.scoreText}</td><td class="num wide">${r.entries}</td><td class="wide">${when(r.lastSubmittedAt)}</td></tr>`,
            )}
          </tbody>
        </table>
      </div>`,
  );
}

export function adminPage(ctx: PageContext, rows: QueueRow[], all: boolean, flash?: string): Html {
  const form = (action: string, label: string, extra: Html | string = "") =>
    markup`<form method="post" action="${action}">
      <input type="hidden" name="_csrf" value="${ctx.csrf}" />${extra}<button type="submit" class="secondary">
        ${label}
      </button>
    </form>`;
  return layout(
    ctx,
    "Queue (organizer)",
    markup`${flash ? markup`<p class="notice" role="status">${flash}</p>` : ""}
      <p>
        ${all ? markup`Every submission, newest first. <a href="/admin">Only queued and running</a>` : markup`Queued and running submissions. <a href="/admin?all=1">Every submission</a>`}
      </p>
      <div class="table-wrap">
        <table id="queue">
          <caption>
            ${rows.length} submission${rows.length === 1 ? "" : "s"}
          </caption>
          <thead>
            <tr>
              <th scope="col">Submission</th>
              <th scope="col">Participant</th>
              <th scope="col">State</th>
              <th scope="col">Submitted</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            ${rows.map(
              (r) =>
                markup`<tr id="${r.submission_id}">
                  <td>
                    <a class="id" href="/admin/submissions/${r.submission_id}">${r.submission_id}</a><br /><span class="muted"
                      >${r.cpu_or_gpu}${r.phase ? `, ${r.phase}` : ""}, attempt ${r.attempt}</span
                    >
                  </td>
                  <td>${r.participant}</td>
                  <td>
                    ${r.state}${r.status ? markup`: ${r.status}` : ""}${r.public_score === null ? "" : ` (${r.public_score})`}${r.disqualified ? markup`<br />disqualified: ${r.disqualified}` : ""}
                  </td>
                  <td data-cell="submitted">
                    ${when(r.submitted_at)}<br /><span class="muted">${formatDuration(r.age_ms)} ago</span>${r.running_ms === null ? "" : markup`<br />running for ${formatDuration(r.running_ms)}`}
                  </td>
                  <td>
                    ${r.state === "queued" || r.state === "running" ? form(`/admin/submissions/${r.submission_id}/cancel`, "Cancel") : form(`/admin/submissions/${r.submission_id}/rerun`, "Re-run")}
                    ${form(
                      `/admin/submissions/${r.submission_id}/disqualify`,
                      "Disqualify",
                      markup`<label for="reason-${r.submission_id}">Reason</label
                        ><input
                          type="text"
                          id="reason-${r.submission_id}"
                          name="reason"
                          required
                          maxlength="500"
                        />`,
                    )}
                  </td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>
      <section aria-labelledby="participant-dq" class="card">
        <h2 id="participant-dq">Disqualify a participant</h2>
        ${form("/admin/participants/disqualify", "Disqualify participant", markup`<label for="dq-participant">Participant</label><input type="text" id="dq-participant" name="participant" required /><label for="dq-reason">Reason</label><input type="text" id="dq-reason" name="reason" required maxlength="500" />`)}
      </section>
      <section aria-labelledby="rescore" class="card">
        <h2 id="rescore">Re-score after a scoring fix</h2>
        <p>
          Scores the kept predictions of every scored submission again on the runners, with the metric, scorer and
          ground truth they have now; no participant's program runs again. The results are recorded on each
          submission's attempts and not applied here: <code>proctor admin rescore --all --dry-run</code> shows old and new
          scores and the rank changes, and <code>proctor admin rescore --all</code> applies them in one transaction. A
          re-score the scorer or a runner fails never removes a score.
        </p>
        ${form("/admin/rescore", "Re-score all (results held)")}
      </section>`,
  );
}

/**
 * One submission as the organizers read it: everything the runner reported, the program's own text
 * included (what a hidden-set phase never shows its participant: they get `hiddenPhaseReason`).
 */
export function adminSubmissionPage(ctx: PageContext, s: OrganizerSubmission): Html {
  const pre = (title: string, text: string | null) =>
    text ? markup`<h2>${title}</h2><pre>${text}</pre>` : "";
  return layout(
    ctx,
    `Submission ${s.id} (organizer)`,
    markup`<p><a href="/admin?all=1">Back to the queue</a></p>
      <dl class="card" id="submission">
        <dt>Participant</dt><dd>${s.participant}</dd>
        <dt>Phase</dt><dd>${s.phase ?? "—"}, ${s.cpuOrGpu}, attempt ${s.attempt}</dd>
        <dt>State</dt><dd>${s.state} (attempt ${s.attempt}, try ${s.attempt - s.runFirstAttempt + 1} of its run)</dd>
        <dt>Standing result</dt><dd data-cell="standing">${s.status ? markup`<strong>${s.status}</strong>${s.publicScore === null ? "" : ` (public score ${s.publicScore})`}, attempt ${s.standingAttempt ?? "?"}` : "none yet"}</dd>
        <dt>Its participant is told</dt><dd data-cell="reason-class">${s.hiddenPhaseReason ?? "—"} (where the phase shows no logs)</dd>
        <dt>Submitted</dt><dd>${when(s.submittedAt)}; finished ${when(s.finishedAt)}</dd>
        ${s.disqualified ? markup`<dt>Disqualified</dt><dd>${s.disqualified}</dd>` : ""}
      </dl>
      ${pre("Reason", s.reason)}${
        s.problems.length > 0
          ? markup`<h2>Problems</h2>
              <ul id="problems">
                ${s.problems.map((p) => markup`<li>${p}</li>`)}
              </ul>`
          : ""
      }${pre("results.json", s.resultsJson)}${pre("stdout", s.stdout)}${pre("stderr", s.stderr)}${
        s.attempts.length > 0
          ? markup`<h2>Attempts</h2>
              <div class="table-wrap">
                <table id="attempts">
                  <thead>
                    <tr>
                      <th scope="col">Attempt</th>
                      <th scope="col">Why</th>
                      <th scope="col">Runner</th>
                      <th scope="col">Ended</th>
                      <th scope="col">Outcome</th>
                      <th scope="col" class="num">Score</th>
                    </tr>
                  </thead>
                  <tbody>
                    ${s.attempts.map(
                      (a) =>
                        markup`<tr data-attempt="${a.attempt}">
                          <td>${a.attempt}${a.attempt === s.standingAttempt ? markup` <strong>(stands)</strong>` : ""}</td>
                          <td>${a.why}${a.why === "retry" ? "" : markup`<br /><span class="muted">run from attempt ${a.run}</span>`}</td>
                          <td>${a.runner ?? "—"}</td>
                          <td>${a.endedAt === null ? "under way" : a.endedAt === "" ? "not recorded" : when(a.endedAt)}</td>
                          <td>${a.status ?? "—"}${a.reason ? markup`<br /><span class="muted">${a.reason}</span>` : ""}</td>
                          <td class="num">${a.publicScore ?? "—"}</td>
                        </tr>`,
                    )}
                  </tbody>
                </table>
              </div>`
          : ""
      }`,
  );
}

export function errorPage(ctx: PageContext, title: string, message: string, hint?: Html): Html {
  return layout(
    ctx,
    title,
    markup`<p class="alert" role="alert">${message}</p>
      ${hint ?? ""}
      <p><a href="/">Back to the rules</a></p>`,
  );
}

const durationText = (d: DurationSummary) =>
  d.count === 0 || d.median_seconds === null || d.p95_seconds === null
    ? "—"
    : `${formatDuration(d.median_seconds * 1000)} / ${formatDuration(d.p95_seconds * 1000)} (${d.count})`;

/** The live region of the public status page: runners and the queue per kind, waits and run times. */
export function statusRegion(status: PublicStatusView): Html {
  const kinds = (["cpu", "gpu"] as const).flatMap((k) => {
    const s = status.kinds[k];
    return s ? [{ kind: k, ...s }] : [];
  });
  const stranded = kinds.filter((k) => k.slots_online === 0 && k.queued > 0);
  return markup`<div id="live" data-live="/status/live" data-active="true">
    <p id="live-status" role="status" aria-live="polite">
      Last scored: ${status.last_scored_at ? when(status.last_scored_at) : "no submission scored yet"}. Updated
      ${when(status.generated_at)}; this page updates by itself.
    </p>
    ${stranded.map(
      (k) =>
        markup`<p class="notice" data-cell="no-runner">No ${k.kind} runner is online right now: the ${k.queued} queued ${k.kind} submission${k.queued === 1 ? " waits" : "s wait"} until one comes.</p>`,
    )}
    <div class="table-wrap">
      <table id="status-queue">
        <caption>
          Runners and the queue
        </caption>
        <thead>
          <tr>
            <th scope="col">Kind</th>
            <th scope="col" class="num">Runners online</th>
            <th scope="col" class="num">Slots</th>
            <th scope="col" class="num">Queued</th>
            <th scope="col" class="num">Running</th>
          </tr>
        </thead>
        <tbody>
          ${kinds.map(
            (k) =>
              markup`<tr data-kind="${k.kind}"><th scope="row">${k.kind}</th><td class="num">${k.runners_online}</td><td class="num">${k.slots_online}</td><td class="num">${k.queued}</td><td class="num">${k.running}</td></tr>`,
          )}
        </tbody>
      </table>
    </div>
    <div class="table-wrap">
      <table id="status-times">
        <caption>
          Median / 95th percentile (how many)
        </caption>
        <thead>
          <tr>
            <th scope="col">Kind</th>
            <th scope="col">What</th>
            <th scope="col" class="num">Last hour</th>
            <th scope="col" class="num">Last day</th>
          </tr>
        </thead>
        <tbody>
          ${kinds.flatMap((k) => [
            markup`<tr data-kind="${k.kind}" data-measure="queue_wait"><th scope="row">${k.kind}</th><td>Queue wait</td><td class="num">${durationText(k.queue_wait.last_hour)}</td><td class="num">${durationText(k.queue_wait.last_day)}</td></tr>`,
            markup`<tr data-kind="${k.kind}" data-measure="run_time"><th scope="row">${k.kind}</th><td>Run time</td><td class="num">${durationText(k.run_time.last_hour)}</td><td class="num">${durationText(k.run_time.last_day)}</td></tr>`,
          ])}
        </tbody>
      </table>
    </div>
  </div>`;
}

export function statusPage(ctx: PageContext, region: Html): Html {
  return layout(
    ctx,
    "Status",
    markup`<p>
        The runners that evaluate submissions and the queue waiting for them. Queue wait: from upload (or a
        retry) until a runner starts it; run time: from then until its result.
      </p>
      ${region}`,
  );
}
