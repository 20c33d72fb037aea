/**
 * The pages' one stylesheet and one script, served from the gateway itself (no CDN, nothing inline, so the
 * Content-Security-Policy allows 'self' only). The script only enhances: every page works without it.
 *  - [data-upload] forms: upload with XMLHttpRequest and a progress bar, then go to the submissions page;
 *    a refusal is shown in the form's alert region with the rule and the zip entry.
 *  - [data-live] regions: refreshed from their data-live URL every few seconds while they say work is under
 *    way (data-active="true"); the server renders (and escapes) the fragment.
 */
export const APP_CSS = `
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #57606a; --bg: #ffffff; --line: #d0d7de;
  --stripe: #f6f8fa; --accent: #0550ae; --focus: #bf3989; --mine: #fff4c2; --bad: #a40e26; --ok: #116329; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #9198a1; --bg: #0d1117;
  --line: #30363d; --stripe: #161b22; --accent: #58a6ff; --focus: #f778ba; --mine: #3b2e00; --bad: #ff8182;
  --ok: #56d364; } }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
  background: var(--bg); }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: -9999px; } .skip:focus { left: 1rem; top: 1rem; background: var(--bg); padding: .5rem; z-index: 2; }
header.site { border-bottom: 1px solid var(--line); padding: .5rem 1rem; display: flex; flex-wrap: wrap; gap: .5rem 1rem;
  align-items: center; }
header.site .brand { font-weight: 700; margin-right: auto; color: var(--fg); text-decoration: none; }
header.site nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: .25rem 1rem; margin: 0; padding: 0; }
header.site nav a[aria-current="page"] { font-weight: 700; text-decoration-thickness: 3px; }
header.site form { margin: 0; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem; }
footer { max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: var(--muted); font-size: .875rem; }
h1 { font-size: 1.6rem; line-height: 1.25; margin: .5rem 0 1rem; }
h2 { font-size: 1.2rem; margin: 1.5rem 0 .5rem; }
.muted { color: var(--muted); }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 1rem; margin: 1rem 0; }
label { display: block; font-weight: 600; margin: .75rem 0 .25rem; }
input[type=text], input[type=password], textarea, input[type=file] { width: 100%; max-width: 36rem; font: inherit;
  padding: .5rem; border: 1px solid var(--muted); border-radius: 6px; background: var(--bg); color: var(--fg); }
fieldset { border: 1px solid var(--line); border-radius: 6px; max-width: 36rem; }
fieldset label { display: inline; font-weight: 400; margin-right: 1rem; }
a.button { display: inline-block; text-decoration: none; margin-right: 1rem; }
button, .button { font: inherit; padding: .5rem 1rem; border-radius: 6px; border: 1px solid var(--accent);
  background: var(--accent); color: #fff; cursor: pointer; min-height: 44px; }
@media (prefers-color-scheme: dark) { button, .button { color: #0d1117; } }
button.link { background: none; border: none; color: var(--accent); padding: .25rem; text-decoration: underline; min-height: 0; }
button.secondary { background: var(--bg); color: var(--accent); }
.alert { border-left: 4px solid var(--bad); padding: .5rem 1rem; background: var(--stripe); margin: 1rem 0; }
.alert:empty { display: none; }
.notice { border-left: 4px solid var(--accent); padding: .5rem 1rem; background: var(--stripe); margin: 1rem 0; }
progress { width: 100%; max-width: 36rem; height: 1.25rem; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
caption { text-align: left; color: var(--muted); padding: .25rem 0; }
th, td { padding: .4rem .6rem; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
thead th { font-weight: 700; border-bottom: 2px solid var(--line); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.mine { background: var(--mine); }
.state-final-succeeded { color: var(--ok); font-weight: 600; }
.state-final-failed { color: var(--bad); font-weight: 600; }
pre { background: var(--stripe); padding: .5rem; overflow-x: auto; max-height: 20rem; white-space: pre-wrap;
  word-break: break-word; }
dl.timeline { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dl.timeline dt { font-weight: 600; }
ol.phases li[aria-current="step"] { font-weight: 700; }
.id { font-family: ui-monospace, monospace; font-size: .85em; word-break: break-all; }
@media (max-width: 600px) {
  main { padding: .75rem; }
  .id { font-size: .75em; }
  button, .button { padding: .4rem .6rem; }
  .wide { display: none; }
  th, td { padding: .35rem .4rem; }
}
`;

export const APP_JS = `"use strict";
(function () {
  function byId(id) { return document.getElementById(id); }
  // Uploads with a progress bar.
  document.querySelectorAll("form[data-upload]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var alert = form.querySelector("[role=alert]");
      var bar = form.querySelector("progress");
      var status = form.querySelector("[data-progress-text]");
      var button = form.querySelector("button[type=submit]");
      alert.textContent = "";
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.getAttribute("data-upload"));
      xhr.setRequestHeader("accept", "application/json");
      xhr.setRequestHeader("x-csrf-token", form.getAttribute("data-csrf"));
      bar.hidden = false; bar.value = 0; button.disabled = true;
      xhr.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) return;
        var pct = Math.floor((e.loaded / e.total) * 100);
        bar.value = pct; status.textContent = "Uploading: " + pct + "%";
      });
      xhr.addEventListener("load", function () {
        var body = {};
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = {}; }
        if (xhr.status >= 200 && xhr.status < 300 && body.submission) {
          status.textContent = "Uploaded: submission " + body.submission.submission_id + " is queued.";
          window.location.assign("/submissions#" + encodeURIComponent(body.submission.submission_id));
          return;
        }
        button.disabled = false; bar.hidden = true; status.textContent = "";
        var message = body.message || ("The upload was refused (HTTP " + xhr.status + ").");
        if (body.rule) message += " Rule: " + body.rule + ".";
        if (body.entry) message += " Entry: " + body.entry + ".";
        alert.textContent = message;
        alert.focus();
      });
      xhr.addEventListener("error", function () {
        button.disabled = false; bar.hidden = true; status.textContent = "";
        alert.textContent = "The upload did not reach the gateway: check your connection and try again.";
        alert.focus();
      });
      xhr.send(new FormData(form));
    });
  });
  // Live regions: refreshed while work is under way.
  document.querySelectorAll("[data-live]").forEach(function (region) {
    function refresh() {
      if (region.getAttribute("data-active") !== "true") return;
      fetch(region.getAttribute("data-live"), { credentials: "same-origin", headers: { accept: "text/html" } })
        .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.text(); })
        .then(function (text) {
          var open = {};
          region.querySelectorAll("details[open][id]").forEach(function (d) { open[d.id] = true; });
          var template = document.createElement("template");
          template.innerHTML = text;
          var fresh = template.content.firstElementChild;
          region.innerHTML = fresh.innerHTML;
          region.setAttribute("data-active", fresh.getAttribute("data-active"));
          Object.keys(open).forEach(function (id) { var d = byId(id); if (d) d.open = true; });
        })
        .catch(function () {})
        .then(function () { setTimeout(refresh, 2000); });
    }
    setTimeout(refresh, 2000);
  });
})();
`;
