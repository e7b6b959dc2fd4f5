#include "server/status_page.h"

namespace laneway::server {

// One self-contained page: no CDN, no build step. It polls /v1/lanes every
// two seconds and draws each lane and the memory map from it. When the
// server wants a key, the page asks for one and keeps it for the tab only
// (sessionStorage), sending it as a Bearer header.
std::string_view status_page_html() {
  static constexpr std::string_view kPage = R"page(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Laneway</title>
<style>
  :root { --bg:#f6f7f9; --card:#fff; --ink:#1d2330; --mute:#687086; --line:#e3e6ec;
          --ready:#2e9d5b; --loading:#d39b1c; --unloaded:#9aa3b5; --failed:#d0453a; --paused:#7a5cc2;
          --service:#3a78c9; --reserve:#5b6274; --free:#e9ecf2; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background:var(--bg); color:var(--ink); }
  header { display:flex; align-items:baseline; gap:1rem; padding:1rem 1.5rem; border-bottom:1px solid var(--line); background:var(--card); }
  header h1 { margin:0; font-size:1.25rem; }
  header .mute { color:var(--mute); }
  main { padding:1.25rem 1.5rem; max-width:1200px; }
  h2 { font-size:1rem; margin:1.25rem 0 .5rem; }
  .bar { display:flex; height:34px; border-radius:6px; overflow:hidden; border:1px solid var(--line); background:var(--free); }
  .seg { height:100%; min-width:2px; color:#fff; font-size:12px; white-space:nowrap; overflow:hidden; text-overflow:ellipsis; padding:8px 6px; }
  .seg.paused { background-image:repeating-linear-gradient(45deg, rgba(255,255,255,.35) 0 6px, transparent 6px 12px); }
  .legend { display:flex; flex-wrap:wrap; gap:.75rem; margin-top:.5rem; color:var(--mute); font-size:12px; }
  .legend i { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:4px; vertical-align:-1px; }
  .lanes { display:grid; grid-template-columns:repeat(auto-fill, minmax(260px, 1fr)); gap:.75rem; }
  .lane { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:.75rem .9rem; }
  .lane .top { display:flex; justify-content:space-between; align-items:center; }
  .lane .name { font-weight:600; font-size:15px; }
  .state { font-size:12px; font-weight:600; padding:2px 8px; border-radius:999px; color:#fff; }
  dl { display:grid; grid-template-columns:auto 1fr; gap:2px 10px; margin:.5rem 0 0; font-size:13px; }
  dt { color:var(--mute); } dd { margin:0; text-align:right; font-variant-numeric:tabular-nums; }
  .err { color:var(--failed); font-size:12px; margin-top:.4rem; word-break:break-word; }
  .progress { height:6px; background:var(--free); border-radius:3px; margin-top:.4rem; overflow:hidden; }
  .progress > div { height:100%; background:var(--loading); }
  #keybox { display:none; margin:1rem 0; padding:.75rem; background:#fff7e6; border:1px solid #f0d9a8; border-radius:6px; }
  #status { color:var(--mute); font-size:12px; }
</style>
</head>
<body>
<header><h1>Laneway</h1><span class="mute">lanes and memory</span><span id="status"></span></header>
<main>
  <div id="keybox">This server needs an API key to show its lanes:
    <input id="key" type="password" placeholder="sk-..." size="28"> <button id="usekey">Use</button></div>
  <h2>Memory</h2>
  <div id="bar" class="bar" role="img" aria-label="memory map"></div>
  <div id="legend" class="legend"></div>
  <h2>Lanes</h2>
  <div id="lanes" class="lanes"></div>
</main>
<script>
"use strict";
const colors = { ready:"var(--ready)", loading:"var(--loading)", restoring:"var(--loading)", draining:"var(--loading)",
                 unloaded:"var(--unloaded)", failed:"var(--failed)", unhealthy:"var(--failed)", paused:"var(--paused)" };
const last = {};  // lane -> {tokens, t} for tokens/s between polls
function bytes(n) {
  if (n == null) return "–";
  const u = ["B","KiB","MiB","GiB","TiB"]; let i = 0; let v = n;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return (i ? v.toFixed(1) : v) + " " + u[i];
}
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "style") Object.assign(e.style, v); else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
}
function row(dl, k, v) { dl.append(el("dt", {}, k), el("dd", {}, String(v))); }
function drawBar(data) {
  const bar = document.getElementById("bar"), legend = document.getElementById("legend");
  bar.replaceChildren(); legend.replaceChildren();
  const segs = [];
  const m = data.machine || {};
  if (m.reserve_os_bytes) segs.push({label:"reserve_os", bytes:m.reserve_os_bytes, color:"var(--reserve)"});
  if (m.reserve_other_bytes) segs.push({label:"reserve_other", bytes:m.reserve_other_bytes, color:"var(--reserve)"});
  for (const s of data.services || []) {
    if (s.memory_budget_bytes) segs.push({label:"service " + s.name, bytes:s.memory_budget_bytes, color:"var(--service)",
                                          paused: s.state === "paused"});
  }
  for (const l of data.data) {
    if (l.kind !== "embedded" || !l.pool) continue;
    const held = l.pool.resident || l.state === "loading" || l.state === "paused";
    if (!held) continue;
    segs.push({label:l.name, bytes:l.pool.bill_bytes, color:colors[l.state] || "var(--unloaded)", paused:l.state === "paused"});
  }
  const used = segs.reduce((a, s) => a + s.bytes, 0);
  const budget = data.pool && data.pool.budget_bytes ? data.pool.budget_bytes : used;
  const total = Math.max(budget, used, 1);
  for (const s of segs) {
    const seg = el("div", {class:"seg" + (s.paused ? " paused" : ""), title:s.label + ": " + bytes(s.bytes),
                           style:{width:(100 * s.bytes / total) + "%", background:s.color}}, s.label);
    bar.append(seg);
  }
  legend.append(el("span", {}, "used " + bytes(used) + " of " + (data.pool && data.pool.budget_bytes ? bytes(budget) : "an unlimited budget")));
  legend.append(el("span", {}, el("i", {style:{background:"var(--free)", border:"1px solid var(--line)"}}), "free " + bytes(Math.max(0, budget - used))));
  for (const [k, c] of [["ready","var(--ready)"],["loading","var(--loading)"],["paused","var(--paused)"],["service","var(--service)"],["reserve","var(--reserve)"]]) {
    legend.append(el("span", {}, el("i", {style:{background:c}}), k));
  }
}
function drawLanes(data) {
  const box = document.getElementById("lanes");
  box.replaceChildren();
  const now = Date.now() / 1000;
  for (const l of data.data) {
    const card = el("div", {class:"lane", "data-lane":l.name, "data-state":l.state});
    card.append(el("div", {class:"top"}, el("span", {class:"name"}, l.name),
                   el("span", {class:"state", style:{background:colors[l.state] || "var(--unloaded)"}}, l.state)));
    const dl = el("dl");
    row(dl, "kind", l.kind + (l.load ? " · " + l.load : ""));
    if (l.kind === "embedded") {
      row(dl, "busy slots", (l.busy_slots ?? 0) + " / " + (l.slots ?? "–"));
      row(dl, "queue", (l.queue_depth ?? 0) + " / " + (l.queue_capacity ?? "–"));
      const gen = l.tokens && l.tokens.generated_total || 0;
      const prev = last[l.name];
      const tps = prev && now > prev.t ? (gen - prev.tokens) / (now - prev.t) : 0;
      last[l.name] = {tokens:gen, t:now};
      row(dl, "tokens/s", tps.toFixed(1));
      row(dl, "context", l.context_tokens ?? "–");
      if (l.pool) row(dl, "memory", bytes(l.pool.bill_bytes) + (l.pool.resident ? "" : " (not loaded)"));
    } else if (l.upstream) {
      row(dl, "service", l.upstream.service);
    }
    card.append(dl);
    if (l.loading && l.loading.bytes_total) {
      const p = el("div", {class:"progress"}, el("div", {style:{width:(100 * l.loading.bytes_done / l.loading.bytes_total) + "%"}}));
      card.append(p);
    }
    if (l.last_error) card.append(el("div", {class:"err"}, l.last_error));
    box.append(card);
  }
}
async function poll() {
  const key = sessionStorage.getItem("laneway-key");
  const headers = key ? {Authorization:"Bearer " + key} : {};
  try {
    const r = await fetch("/v1/lanes", {headers});
    if (r.status === 401) { document.getElementById("keybox").style.display = "block"; throw new Error("needs a key"); }
    const data = await r.json();
    drawBar(data); drawLanes(data);
    document.body.setAttribute("data-rendered", "1");
    document.getElementById("status").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    document.getElementById("status").textContent = String(e.message || e);
  }
}
document.getElementById("usekey").onclick = () => {
  sessionStorage.setItem("laneway-key", document.getElementById("key").value);
  document.getElementById("keybox").style.display = "none"; poll();
};
poll(); setInterval(poll, 2000);
</script>
</body>
</html>
)page";
  return kPage;
}

}  // namespace laneway::server
