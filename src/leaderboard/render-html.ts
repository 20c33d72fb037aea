/**
 * The leaderboard as one static, accessible HTML page: inline CSS and JS only, nothing loaded from
 * anywhere (a Content-Security-Policy with `default-src 'none'` and hashes of the inline style and script
 * enforces it, and also blocks any inline handler should escaping ever fail). Every participant-provided
 * string is HTML-escaped; the script carries no data (it reads the table), so nothing untrusted ever
 * lands inside <script>.
 *
 * Accessibility: a <table> with a <caption>, column headers <th scope="col">, participant cells as row
 * headers; each column header holds a <button> that sorts by that column (keyboard reachable; Enter or
 * Space), `aria-sort` marks the sorted column, and a polite live region announces the new order.
 */
import { createHash } from "node:crypto";
import { escapeHtml } from "./escape.js";
import type { Standings } from "./ranking.js";
import {
  assertPublishable,
  describeRanking,
  formatUtc,
  recordUrls,
  scoreHeading,
  type RenderOptions,
} from "./render-common.js";

const STYLE = `
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #57606a; --bg: #ffffff; --line: #d0d7de;
  --stripe: #f6f8fa; --accent: #0550ae; --focus: #bf3989; --gold: #fff4c2; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #9198a1; --bg: #0d1117;
  --line: #30363d; --stripe: #161b22; --accent: #58a6ff; --focus: #f778ba; --gold: #3b2e00; } }
* { box-sizing: border-box; }
body { margin: 0; padding: 2rem 1rem; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: var(--bg); }
main { max-width: 60rem; margin: 0 auto; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
.meta { color: var(--muted); margin: 0 0 1.25rem; font-size: .9rem; }
.table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 8px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
caption { text-align: left; padding: .75rem 1rem; color: var(--muted); font-size: .9rem; caption-side: top; }
caption strong { color: var(--fg); }
th, td { padding: .55rem 1rem; border-top: 1px solid var(--line); text-align: left; white-space: nowrap; }
thead th { border-top: none; background: var(--stripe); font-weight: 600; padding: 0; }
thead th button { all: inherit; display: block; width: 100%; padding: .6rem 1rem; cursor: pointer; }
thead th button:hover { color: var(--accent); }
thead th button:focus-visible { outline: 3px solid var(--focus); outline-offset: -3px; }
thead th button::after { content: "\\2195"; content: "\\2195" / ""; margin-left: .35em; opacity: .35; }
thead th[aria-sort="ascending"] button::after { content: "\\25B2"; content: "\\25B2" / ""; opacity: 1; }
thead th[aria-sort="descending"] button::after { content: "\\25BC"; content: "\\25BC" / ""; opacity: 1; }
tbody th { font-weight: 500; max-width: 22rem; overflow: hidden; text-overflow: ellipsis; }
tbody tr:nth-child(even) { background: var(--stripe); }
tbody tr.podium td.rank { font-weight: 700; }
tbody tr.podium td.rank span { display: inline-block; min-width: 1.8em; text-align: center; border-radius: 999px;
  background: var(--gold); }
tbody tr.unranked { color: var(--muted); }
.num { text-align: right; }
.image code { font-size: .85em; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  white-space: nowrap; }
footer { color: var(--muted); font-size: .85rem; margin-top: 1rem; }
`;

const SCRIPT = `
(function () {
  "use strict";
  var table = document.getElementById("leaderboard");
  var tbody = table.tBodies[0];
  var live = document.getElementById("sort-status");
  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var collator = new Intl.Collator(undefined, { sensitivity: "base", numeric: true });
  function value(row, col, type) {
    var cell = row.cells[col];
    var raw = type === "text" ? cell.textContent : cell.getAttribute("data-sort");
    return raw === null || raw === "" ? null : type === "text" ? raw : Number(raw);
  }
  headers.forEach(function (th, col) {
    var button = th.querySelector("button");
    if (!button) return;
    button.addEventListener("click", function () {
      var current = th.getAttribute("aria-sort");
      var dir = current === "ascending" ? "descending" : current === "descending" ? "ascending"
        : th.getAttribute("data-default-sort");
      var type = th.getAttribute("data-type");
      var sign = dir === "descending" ? -1 : 1;
      var rows = Array.prototype.slice.call(tbody.rows);
      rows.sort(function (a, b) {
        var av = value(a, col, type), bv = value(b, col, type);
        var order = Number(a.getAttribute("data-order")) - Number(b.getAttribute("data-order"));
        if (av === null || bv === null) return av === bv ? order : av === null ? 1 : -1;
        var c = type === "text" ? collator.compare(av, bv) : av - bv;
        return sign * c || order;
      });
      rows.forEach(function (row) { tbody.appendChild(row); });
      headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", dir);
      live.textContent = "Sorted by " + button.textContent + ", " + dir + ".";
    });
  });
})();
`;

function cspHash(source: string): string {
  return `'sha256-${createHash("sha256").update(source, "utf8").digest("base64")}'`;
}

interface Column {
  label: string;
  type: "number" | "text";
  defaultSort: "ascending" | "descending";
}

export function renderHtml(standings: Standings, options: RenderOptions): string {
  assertPublishable(standings, options);
  const generatedAt = (options.generatedAt ?? new Date()).toISOString();
  const competition = escapeHtml(options.competition);
  const which = standings.mode === "private" ? "Private" : "Public";
  const bestFirst = standings.rules.direction === "higher" ? "descending" : "ascending";
  const columns: Column[] = [
    { label: "Rank", type: "number", defaultSort: "ascending" },
    { label: "Participant", type: "text", defaultSort: "ascending" },
    { label: scoreHeading(standings), type: "number", defaultSort: bestFirst },
    { label: "Entries", type: "number", defaultSort: "descending" },
    { label: "Last submission", type: "number", defaultSort: "descending" },
  ];
  const records = recordUrls(options);
  // A competition without models keeps its page as it was: the column is there only when a row has some.
  const withModels = standings.rows.some((row) => row.modelsDigest !== null);
  const head =
    columns
      .map(
        (c, i) =>
          `<th scope="col" data-type="${c.type}" data-default-sort="${c.defaultSort}"` +
          `${i === 0 ? ' aria-sort="ascending"' : ""}${i !== 1 ? ' class="num"' : ""}>` +
          `<button type="button">${escapeHtml(c.label)}</button></th>`,
      )
      .join("") +
    `<th scope="col">Runtime image</th>` +
    (withModels ? `<th scope="col">Models</th>` : "");
  const body = standings.rows
    .map((row, i) => {
      const cls = row.rank === null ? "unranked" : row.rank <= 3 ? "podium" : "";
      const rank = row.rank === null ? "—" : String(row.rank);
      const last = Date.parse(row.lastSubmittedAt);
      return (
        `<tr data-order="${i}"${cls ? ` class="${cls}"` : ""}>` +
        `<td class="rank num" data-sort="${row.rank ?? ""}"><span>${rank}</span></td>` +
        `<th scope="row">${escapeHtml(row.participant)}</th>` +
        `<td class="num" data-sort="${row.rank === null ? "" : escapeHtml(row.scoreText)}">${row.rank === null ? "no score" : escapeHtml(row.scoreText)}</td>` +
        `<td class="num" data-sort="${row.entries}">${row.entries}</td>` +
        `<td class="num" data-sort="${Number.isNaN(last) ? "" : last}"><time datetime="${escapeHtml(row.lastSubmittedAt)}">` +
        `${escapeHtml(formatUtc(row.lastSubmittedAt))}</time></td>` +
        `<td class="image">${digestCell(row.imageDigest, records.image, IMAGE_RECORD)}</td>` +
        (withModels
          ? `<td class="image">${digestCell(row.modelsDigest, records.models, MODELS_RECORD)}</td>`
          : "") +
        `</tr>`
      );
    })
    .join("\n");
  const ranked = standings.rows.filter((r) => r.rank !== null).length;
  const empty =
    standings.rows.length === 0
      ? `<tr><td colspan="${columns.length + 1}">No submissions yet.</td></tr>`
      : "";
  const csp =
    `default-src 'none'; style-src ${cspHash(STYLE)}; script-src ${cspHash(SCRIPT)}; ` +
    `img-src 'none'; base-uri 'none'; form-action 'none'`;

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${competition} — ${which.toLowerCase()} leaderboard</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>${competition}</h1>
<p class="meta">${which} leaderboard${options.phase ? ` of phase ${escapeHtml(options.phase)}` : ""} · generated <time datetime="${generatedAt}">${formatUtc(generatedAt)}</time></p>
<div class="table-wrap">
<table id="leaderboard">
<caption><strong>${which} leaderboard: ${ranked} ranked of ${standings.rows.length} participants.</strong>
${escapeHtml(describeRanking(standings))} Select a column heading to sort by it.</caption>
<thead><tr>${head}</tr></thead>
<tbody>
${body}${empty}
</tbody>
</table>
</div>
<p id="sort-status" class="visually-hidden" aria-live="polite"></p>
<footer>Participants without a scored entry are listed last, unranked.</footer>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

const IMAGE_RECORD = "the record of this image in runtime/published.json";
const MODELS_RECORD =
  "the record of published images (runtime/published.json), which names this models image";

/**
 * A digest a row's entry ran with (its runtime image, its models image): shortened (the full one in the
 * title), linked to where it is recorded when that URL is known (runtime/published.json for an image,
 * runtime/models.yml for models), so anyone can look up the packages and models a score was made with.
 */
function digestCell(digest: string | null, record: string | null, what: string): string {
  if (digest === null) return "—";
  const short = escapeHtml(digest.replace(/^(sha256:[0-9a-f]{12})[0-9a-f]+$/, "$1…"));
  const code = `<code title="${escapeHtml(digest)}">${short}</code>`;
  return record === null
    ? code
    : `<a href="${escapeHtml(record)}" rel="noreferrer" title="${what}">${code}</a>`;
}
