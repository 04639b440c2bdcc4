// The nclrec page: reads the daemon's own JSON routes (/model, /metrics?format=json,
// /recommend?explain=1, /similar) every few seconds and draws them. No libraries.
"use strict";
const $ = (id) => document.getElementById(id);
const POLL_MS = 2000;
let prev = null; // the last metrics sample set and its time, for rates

// A key may come in the address's fragment (/ui/#key=K: never sent to the server): kept for
// the tab in sessionStorage and removed from the address.
const fromHash = new URLSearchParams(location.hash.slice(1)).get("key");
if (fromHash) { sessionStorage.setItem("nclrec-key", fromHash); history.replaceState(null, "", location.pathname + location.search); }
$("key").value = sessionStorage.getItem("nclrec-key") || "";
$("key").addEventListener("change", () => { sessionStorage.setItem("nclrec-key", $("key").value); poll(); });
$("keyform").addEventListener("submit", (ev) => ev.preventDefault());

// GET path as JSON with the key from the page (when given); a problem's detail on failure.
async function get(path) {
  const h = {};
  const k = $("key").value;
  if (k) h.Authorization = "Bearer " + k;
  const r = await fetch(path, { headers: h });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(path.split("?")[0] + ": " + (body.detail || r.status));
  return body;
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

const fmt = (x, d = 4) => (typeof x === "number" && x >= 0 ? x.toFixed(d) : "-");

function showModel(m) {
  const dl = $("model");
  dl.replaceChildren();
  const hp = m.hparams || {};
  const rows = [
    ["version", m.version], ["trained_at", m.trained_at],
    ["users / items", m.users + " / " + m.items], ["interactions", JSON.stringify(m.interactions)],
    ["epochs (best)", m.epochs_run + " (" + m.best_epoch + ")"],
    ["test recall@20", fmt(m.metrics.test["recall@20"])], ["test ndcg@20", fmt(m.metrics.test["ndcg@20"])],
    ["hyper-parameters", Object.entries(hp).map(([k, v]) => k + "=" + v).join(" ")],
  ];
  for (const [k, v] of rows) { dl.append(el("dt", k)); dl.append(el("dd", String(v))); }
  $("model").dataset.version = m.version;
  const p = m.primary;
  $("replica").textContent = p ? "replica of " + p.url + (p.reachable ? "" : " (unreachable)") +
    ", lag " + Math.max(0, p.primary_seq - p.applied_seq) + " events, last contact " +
    fmt(p.last_contact_seconds, 1) + " s ago" : "";
}

// A line chart of series [{name, color, pts: [[x, y]...]}] on canvas c.
function chart(c, series, xlabel) {
  const g = c.getContext("2d"), W = c.width, H = c.height, L = 40, B = 18;
  g.clearRect(0, 0, W, H);
  const all = series.flatMap((s) => s.pts);
  g.fillStyle = "#90a4ae"; g.font = "11px sans-serif";
  if (!all.length) { g.fillText("no data yet", L, H / 2); return; }
  const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1), y0 = 0, y1 = Math.max(...ys, 1e-6) * 1.1;
  const X = (x) => L + (x - x0) / (x1 - x0) * (W - L - 8), Y = (y) => H - B - (y - y0) / (y1 - y0) * (H - B - 8);
  g.strokeStyle = "#cfd8dc"; g.beginPath(); g.moveTo(L, 4); g.lineTo(L, H - B); g.lineTo(W, H - B); g.stroke();
  g.fillText(y1.toFixed(3), 2, 12); g.fillText("0", 2, H - B); g.fillText(xlabel + " " + x0 + ".." + x1, L + 4, H - 4);
  let lx = W - 8;
  for (const s of series) {
    g.strokeStyle = g.fillStyle = s.color; g.beginPath();
    s.pts.forEach((p, i) => (i ? g.lineTo(X(p[0]), Y(p[1])) : g.moveTo(X(p[0]), Y(p[1]))));
    g.stroke();
    for (const p of s.pts) g.fillRect(X(p[0]) - 1.5, Y(p[1]) - 1.5, 3, 3);
    lx -= g.measureText(s.name).width + 12; g.fillText(s.name, lx, 12);
  }
}

// The served model's own held-out figures, for the history chart when no retrain here made it.
let served = null;

function showRetrain(r) {
  if (!r) { $("retrain").textContent = "no retraining in this process"; return; }
  const ep = r.epochs || [];
  const last = ep[ep.length - 1];
  $("retrain").textContent = (r.running ? "running" : "idle") + ", " + r.runs + " runs" +
    (last ? "; epoch " + last.epoch + " bpr " + fmt(last.bpr) + " ssl " + fmt(last.ssl, 6) + " proto " +
      fmt(last.proto, 6) + " valid ndcg@10 " + fmt(last.valid_ndcg10) : "");
  chart($("curve"), [{ name: "valid ndcg@10", color: "#1e88e5", pts: ep.filter((e) => e.valid_ndcg10 >= 0).map((e) => [e.epoch, e.valid_ndcg10]) },
    { name: "bpr", color: "#e53935", pts: ep.map((e) => [e.epoch, e.bpr]) }], "epoch");
  const hist = (r.history || []).filter((h) => h.recall20 >= 0);
  if (served && !hist.some((h) => h.version === served.version)) hist.push(served);
  hist.sort((a, b) => a.version - b.version);
  chart($("history"), [{ name: "recall@20", color: "#43a047", pts: hist.map((h) => [h.version, h.recall20]) },
    { name: "ndcg@20", color: "#8e24aa", pts: hist.map((h) => [h.version, h.ndcg20]) }], "version");
  const tb = $("runs").tBodies[0];
  tb.replaceChildren();
  for (const h of (r.history || []).slice().reverse()) {
    const tr = el("tr");
    for (const v of [h.ended_at, h.outcome, h.version || "-", fmt(h.recall20), h.detail || ""]) tr.append(el("td", String(v)));
    tb.append(tr);
  }
}

// Samples of one metric name as [{labels, value}].
const samples = (m, name) => m.samples.filter((s) => s.name === name);

// A quantile from cumulative histogram buckets [{le, n}], by linear interpolation in a bucket.
function quantile(buckets, q) {
  const total = buckets.length ? buckets[buckets.length - 1].n : 0;
  if (!total) return -1;
  let lo = 0, nlo = 0;
  for (const b of buckets) {
    if (b.n >= q * total) return b.le === Infinity ? lo : lo + (b.le - lo) * (q * total - nlo) / Math.max(b.n - nlo, 1);
    lo = b.le; nlo = b.n;
  }
  return lo;
}

// Per route: request rate and p50/p99 over the last poll interval (since start on the first).
function showTraffic(m, now) {
  const by = {};
  const key = (s) => s.labels.method + " " + s.labels.route;
  for (const s of samples(m, "nclrec_http_request_duration_seconds_bucket")) {
    const r = (by[key(s)] = by[key(s)] || {});
    const le = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
    r[le] = (r[le] || 0) + s.value;
  }
  const old = prev ? prev.by : {};
  const dt = prev ? (now - prev.t) / 1000 : 0;
  const tb = $("traffic").tBodies[0];
  tb.replaceChildren();
  for (const route of Object.keys(by).sort()) {
    const o = old[route] || {};
    const bs = Object.keys(by[route]).map(Number).sort((a, b) => a - b).map((le) => ({ le, n: by[route][le] - (dt ? o[le] || 0 : 0) }));
    const n = bs.length ? bs[bs.length - 1].n : 0;
    const tr = el("tr");
    for (const v of [route, dt ? (n / dt).toFixed(1) : "-", fmt(quantile(bs, 0.5) * 1e3, 2), fmt(quantile(bs, 0.99) * 1e3, 2)]) tr.append(el("td", v));
    tb.append(tr);
  }
  const one = (name) => samples(m, name).reduce((a, s) => a + s.value, 0);
  const src = samples(m, "nclrec_recommendations_total").map((s) => s.labels.source + " " + s.value).join(", ");
  const cache = {};
  for (const s of samples(m, "nclrec_recommend_cache_total")) cache[s.labels.outcome] = s.value;
  const looked = (cache.hit || 0) + (cache.fill || 0) + (cache.scan || 0);
  const rows = one("nclrec_ingested_rows_total");
  $("sources").textContent = "sources: " + (src || "none yet") + "; ingest " +
    (prev && dt ? ((rows - prev.rows) / dt).toFixed(1) : "-") + " rows/s; candidate-list hit rate " +
    (looked ? (100 * (cache.hit || 0) / looked).toFixed(1) + " %" : "-");
  prev = { t: now, by, rows };
}

// Both routes are asked at once; when both fail, /model's error is the one shown (Promise.all
// would show whichever answer came first).
async function poll() {
  try {
    const got = await Promise.allSettled([get("/model"), get("/metrics?format=json")]);
    const failed = got.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
    const [model, metrics] = got.map((r) => r.value);
    showModel(model);
    served = { version: model.version, recall20: model.metrics.test["recall@20"], ndcg20: model.metrics.test["ndcg@20"] };
    showRetrain(model.retrain);
    showTraffic(metrics, Date.now());
    $("status").textContent = "model " + model.version;
    $("status").className = "";
  } catch (err) {
    $("status").textContent = err.message;
    $("status").className = "err";
  }
}

function listItems(items, note) {
  const ol = $("found");
  ol.replaceChildren();
  for (const it of items) ol.append(el("li", it.item + "  (" + it.score.toFixed(3) + ")" + (note ? note(it) : "")));
}

async function lookup(ev, fn) {
  ev.preventDefault();
  try { await fn(); } catch (err) { $("why").textContent = err.message; $("found").replaceChildren(); }
}

$("ufind").addEventListener("submit", (ev) => lookup(ev, async () => {
  const r = await get("/recommend?k=10&explain=1&user=" + encodeURIComponent($("user").value));
  const x = r.explain;
  $("why").textContent = "source " + r.source + (x && x.cluster >= 0 ? "; users like " + r.user + " cluster around " +
    x.cluster_items.join(", ") + " (prototype " + x.cluster + ")" : "");
  listItems(r.items, (it) => (x && x.item_clusters ? "  item prototype " + x.item_clusters[it.item] : ""));
  $("found").dataset.user = r.user;
}));

$("ifind").addEventListener("submit", (ev) => lookup(ev, async () => {
  const r = await get("/similar?k=10&item=" + encodeURIComponent($("item").value));
  $("why").textContent = "items nearest to " + r.item;
  listItems(r.items);
}));

poll();
setInterval(poll, POLL_MS);
const q = new URLSearchParams(location.search);
if (q.get("user")) { $("user").value = q.get("user"); $("ufind").requestSubmit(); }
