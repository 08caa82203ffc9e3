"use strict";
// logenrich catalog explorer: the loaded table, a "try it" box over /v1/enrich, counts from /metrics.

const $ = (id) => document.getElementById(id);
let rules = [];

function token() { return sessionStorage.getItem("logenrich-token") || ""; }
function headers(extra = {}) {
  const h = { ...extra };
  if (token()) h["Authorization"] = "Bearer " + token();
  return h;
}
// only web links are rendered as links: a javascript: or data: URL would run in this page's origin
function webLink(url) { return typeof url === "string" && /^https?:\/\//i.test(url) ? url : null; }
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const child of children) node.append(child);
  return node;
}
function severityText(rule) {
  let text = rule.severity === "keep" ? "as logged" : rule.severity;
  if (rule.adjust === "cap") text = "at most " + rule.severity;
  if (rule.adjust === "floor") text = "at least " + rule.severity;
  for (const c of rule.conditions) text += "; " + c.severity + " when " + (c.kind === "range" ? c.field + " in range" : "versions straddle " + c.boundaries.join(", "));
  return text;
}

async function loadRules() {
  const response = await fetch("/v1/rules", { headers: headers() });
  if (response.status === 401) { $("table-info").textContent = "The service requires a bearer token: enter it above."; return; }
  const table = await response.json();
  rules = table.rules;
  $("table-info").textContent = `Rule table ${table.version}: ${rules.length} rules.`;
  fillSelect("category", [...new Set(rules.map((r) => r.category))].sort());
  fillSelect("severity", ["debug", "info", "warning", "error", "critical", "keep"]);
  renderRules();
}
function fillSelect(id, values) {
  const select = $(id);
  select.length = 1;
  for (const v of values) select.append(el("option", { value: v, textContent: v }));
}
function renderRules() {
  const q = $("search").value.trim().toLowerCase();
  const category = $("category").value, severity = $("severity").value;
  const shown = rules.filter((r) =>
    (!q || [r.id, r.title, r.summary, r.action].join(" ").toLowerCase().includes(q)) &&
    (!category || r.category === category) && (!severity || r.severity === severity));
  $("rule-count").textContent = `${shown.length} of ${rules.length} rules shown.`;
  const list = $("rules");
  list.replaceChildren(...shown.map((r) => {
    const examples = el("details", {}, el("summary", { textContent: `Examples (${r.examples.length}) and lines it must not match (${r.rejects.length})` }),
      el("ul", {}, ...r.examples.map((x) => el("li", {}, el("code", { textContent: x.line }))),
        ...r.rejects.map((x) => el("li", {}, "must not match: ", el("code", { textContent: x })))));
    return el("li", {},
      el("div", {}, el("span", { className: "rule-id", textContent: r.id }), " — ", r.title),
      el("div", {}, el("span", { className: "tag", textContent: "category: " + r.category }),
        el("span", { className: "tag", textContent: "severity: " + severityText(r) }),
        webLink(r.doc_url) ? el("a", { href: webLink(r.doc_url), textContent: "documentation" }) : ""),
      el("p", { textContent: "Meaning: " + r.summary }),
      el("p", { textContent: "Action: " + r.action }),
      examples);
  }));
}

// The lines of what was pasted: raw log lines, or the log line of each pasted JSON record. Only
// the lines are sent, each as {"message": line}, so everything shown is what the service computed
// (a pasted record's own "enrichment" never reaches the table).
function linesOf(text) {
  const trimmed = text.trim();
  try {
    const parsed = JSON.parse(trimmed);
    if (typeof parsed === "object" && parsed !== null) return [(Array.isArray(parsed) ? parsed : [parsed]).map(lineOf), true];
  } catch (_) { /* not one JSON value */ }
  const lines = trimmed.split("\n").filter((l) => l.trim());
  const records = lines.map((l) => { try { const r = JSON.parse(l); return typeof r === "object" && r !== null ? r : null; } catch (_) { return null; } });
  if (lines.length && records.every((r) => r !== null)) return [records.map(lineOf), true];
  return [[text], false];
}
// a record's log line; null when it has none (the service passes such a record through)
function lineOf(record) {
  for (const key of ["message", "log", "msg", "MESSAGE"]) if (record && typeof record[key] === "string") return record[key];
  return null;
}
async function classify(event) {
  event.preventDefault();
  const [all, fromRecords] = linesOf($("lines").value);
  const pasted = all.filter((line) => line !== null);
  const skipped = all.length - pasted.length;
  if (!pasted.join("").trim()) { $("try-status").textContent = "Paste at least one log line (or records with a message, log or msg string)."; return; }
  // raw text goes as text (the service groups continuation lines); records' lines one by one
  const [body, type] = fromRecords
    ? [JSON.stringify(pasted.map((message) => ({ message }))), "application/json"]
    : [pasted[0], "text/plain"];
  const response = await fetch("/v1/enrich", { method: "POST", body, headers: headers({ "Content-Type": type, "Accept": "application/json" }) });
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    $("try-status").textContent = `The service answered ${response.status}: ${problem.detail || response.statusText}`;
    return;
  }
  const records = await response.json();
  const list = Array.isArray(records) ? records : [records];
  $("try-status").textContent = `${list.length} record(s) classified.` +
    (skipped ? ` ${skipped} pasted record(s) hold no message, log or msg string: the service passes those through unchanged.` : "");
  const rows = list.map((record) => {
    const e = record.enrichment || {};
    const ecs = record.rule || {};
    const id = e.classification || ecs.id || "unclassified";
    const doc = webLink(e.doc_url || ecs.reference);
    const severity = e.severity || (record.logenrich || {}).severity || "";
    const original = e.original_severity ? ` (logged ${e.original_severity})` : "";
    const fields = e.fields || (record.logenrich || {}).fields || {};
    return el("tr", {},
      el("td", { className: "line", textContent: lineOf(record) ?? "" }),
      el("td", { className: "classification", textContent: id === "unclassified" ? "unclassified (no rule decided)" : id }),
      el("td", { className: "severity", textContent: severity + original }),
      el("td", { className: "fields", textContent: Object.keys(fields).length ? JSON.stringify(fields) : "—" }),
      el("td", {}, doc ? el("a", { href: doc, className: "doc", textContent: "doc" }) : "—"));
  });
  $("results").querySelector("tbody").replaceChildren(...rows);
  $("results").hidden = false;
  loadCounts();
  setTimeout(loadUnclassified, 500);  // the sample is fed after the answer
}

async function loadCounts() {
  const response = await fetch("/metrics", { headers: headers() });
  if (!response.ok) return;
  const text = await response.text();
  const counts = {};
  for (const line of text.split("\n")) {
    const m = line.match(/^logenrich_records_total\{.*classification="([^"]+)".*\} ([0-9.e+]+)$/);
    if (m) counts[m[1]] = (counts[m[1]] || 0) + Number(m[2]);
  }
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]).slice(0, 15);
  if (!entries.length) return;
  const max = entries[0][1];
  $("counts").replaceChildren(el("p", { textContent: "Top classifications by records enriched (bar length and number):" }),
    ...entries.map(([name, n]) => {
      const bar = el("div", { className: "bar", title: `${n} records` });
      bar.style.width = Math.max(2, (100 * n) / max) + "%";
      return el("div", { className: "bar-row" }, el("span", { className: "bar-label", textContent: name }), el("div", {}, bar), el("span", { className: "bar-value", textContent: String(n) }));
    }));
}

// The service's sample of unclassified messages (serve --sample-unclassified N), by template.
async function loadUnclassified() {
  const response = await fetch("/v1/unclassified?limit=50", { headers: headers() });
  const status = $("unclassified-status");
  if (response.status === 404) {
    status.textContent = "This service keeps no sample of unclassified messages: start it with --sample-unclassified N (or LOGENRICH_SAMPLE_UNCLASSIFIED=N).";
    return;
  }
  if (!response.ok) { status.textContent = "The sample needs the bearer token: enter it above."; return; }
  const sample = await response.json();
  status.textContent = `${sample.messages} unclassified message(s) in ${sample.template_count} template(s)` +
    (sample.other ? `, ${sample.other} past the bound of ${sample.bound.templates} templates` : "") +
    `. This is the sample of one process (pid ${sample.pid}): each worker and pod keeps its own.`;
  const rows = sample.templates.map((t) => el("tr", {},
    el("td", { className: "count", textContent: String(t.count) }),
    el("td", { className: "template", textContent: t.template }),
    el("td", { textContent: Object.entries(t.levels).map(([level, n]) => `${level} ${n}`).join(", ") }),
    el("td", { className: "line", textContent: t.examples[0] ?? "—" })));
  $("unclassified").querySelector("tbody").replaceChildren(...rows);
  $("unclassified").hidden = !rows.length;
  $("draft-button").hidden = !rows.length;
}
// The draft rules come with the token in a header, so they are fetched, then saved from a blob.
async function downloadDraft() {
  const response = await fetch("/v1/unclassified/draft", { headers: headers() });
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    $("draft-status").textContent = `No draft: ${problem.detail || response.statusText}`;
    return;
  }
  const url = URL.createObjectURL(await response.blob());
  const link = el("a", { href: url, download: "unclassified-draft.toml" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
  $("draft-status").textContent = "Draft saved: edit the titles, summaries and actions, run logenrich check on it, then load it with --rules.";
}

document.addEventListener("DOMContentLoaded", () => {
  $("token").value = token();
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem("logenrich-token", $("token").value);
    loadRules(); loadCounts(); loadUnclassified();
  });
  $("draft-button").addEventListener("click", downloadDraft);
  for (const id of ["search", "category", "severity"]) $(id).addEventListener("input", renderRules);
  $("filters").addEventListener("submit", (event) => event.preventDefault());
  $("try-form").addEventListener("submit", classify);
  loadRules(); loadCounts(); loadUnclassified();
});
