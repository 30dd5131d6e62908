"use strict";
// The live view's page: every half second it asks the server for the metric rows each
// run recorded since the last poll, and redraws one SVG chart per metric (a line per
// split, per run in a sweep; per-batch values as a thin line). Plain SVG, no library.

const POLL_MS = 500;
const SVG = "http://www.w3.org/2000/svg";
const W = 520, H = 300, M = { left: 62, right: 16, top: 28, bottom: 36 };
const SPLIT_COLOURS = { train: "#1f77b4", test: "#d62728", validation: "#2ca02c", batch: "#8c8c8c" };
const RUN_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const SPLIT_DASH = { train: "", test: "7 4", validation: "2 3", batch: "" };

// One entry per run, in the server's order: {label, state, file, next, columns, rows}.
const runs = [];
let kind = "run", connected = false, changed = true, updated = null;

async function getJSON(url) {
  const response = await fetch(url, { cache: "no-store" });
  if (!response.ok) throw new Error(url + ": HTTP " + response.status);
  return response.json();
}

async function poll() {
  try {
    const list = await getJSON("/runs.json");
    kind = list.kind;
    document.getElementById("title").textContent = "runner · " + list.title;
    list.runs.forEach((r, i) => {
      const run = runs[i] || (runs[i] = { file: "", next: 0, columns: [], rows: [] });
      if (run.label !== r.label || run.state !== r.state) changed = true;
      run.label = r.label;
      run.state = r.state;
    });
    runs.length = list.runs.length;
    for (let i = 0; i < runs.length; i++) await pollRun(i);
    connected = true;
    updated = new Date();
  } catch (e) {
    connected = false;
  }
  if (changed) {
    changed = false;
    render();
  }
  showStatus();
  setTimeout(poll, POLL_MS);
}

// Fetches run i's new rows, a chunk at a time, until the server has no more.
async function pollRun(i) {
  const run = runs[i];
  for (let chunk = 0; chunk < 64; chunk++) {
    const m = await getJSON(`/metrics.json?run=${i}&from=${run.next}`);
    // No file for a moment (between a run's folder and its rename): keep what is shown.
    if (m.file === "") return;
    if (m.file !== run.file) {
      // Another file (a sweep's run done again): start over from its first row.
      const fromTop = run.next === 0 || m.restart;
      run.file = m.file;
      run.rows = [];
      run.damaged = null;
      run.next = 0;
      changed = true;
      if (!fromTop) continue;
    } else if (m.restart) {
      run.rows = [];
      changed = true;
    }
    run.columns = m.columns;
    // Lines the server passed over (longer than any row): said once, under the charts.
    if (m.damaged && run.damaged !== m.damaged) {
      run.damaged = m.damaged;
      changed = true;
    }
    for (const row of m.rows) run.rows.push(row);
    if (m.rows.length > 0) changed = true;
    run.next = m.next;
    if (!m.more) return;
  }
}

function el(name, attrs, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function fmt(v) {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1);
  return String(+v.toPrecision(4));
}

function colour(line) {
  return kind === "sweep" ? RUN_COLOURS[line.run % RUN_COLOURS.length] : SPLIT_COLOURS[line.split] || "#444";
}

// Per metric (in column order), one line per run and split: points [step, value or
// null], null where the value is not finite (a gap), and the first such value.
function series() {
  const order = [], byMetric = new Map();
  runs.forEach((run, ri) => {
    for (let c = 3; c < run.columns.length; c++) {
      const name = run.columns[c];
      if (!byMetric.has(name)) {
        byMetric.set(name, []);
        order.push(name);
      }
      const lines = new Map();
      for (const row of run.rows) {
        const v = row[c];
        if (v === null || v === undefined) continue;
        const split = String(row[2]);
        if (!lines.has(split)) lines.set(split, { run: ri, split, points: [], bad: null });
        const line = lines.get(split);
        if (typeof v === "number") {
          line.points.push([row[0], v]);
        } else {
          line.points.push([row[0], null]);
          if (!line.bad) line.bad = { step: row[0], text: v };
        }
      }
      byMetric.get(name).push(...lines.values());
    }
  });
  // A metric no row has a value for yet gets no panel.
  return order.map((name) => ({ name, lines: byMetric.get(name) })).filter((m) => m.lines.length > 0);
}

// About n round numbers from lo to hi.
function ticks(lo, hi, n) {
  const raw = (hi - lo) / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= raw);
  const out = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(+t.toPrecision(12));
  return out;
}

// The span of the values, widened when they are all one value. (A loop: spreading a
// long run's values into Math.min would overflow the call stack.)
function range(values) {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === hi) {
    const pad = Math.abs(lo) * 0.05 || 1;
    lo -= pad;
    hi += pad;
  }
  return [lo, hi];
}

// Screen points ([x, y], null for a gap) cut to what the chart can show: past a few
// points per pixel column, each column keeps its first, lowest, highest and last point,
// so a long run's path stays small and its spikes stay visible.
function thin(points) {
  if (points.length <= 3 * (W - M.left - M.right)) return points;
  const out = [];
  let col = null;
  const close = () => {
    if (col) out.push(col.first, col.lo, col.hi, col.last);
    col = null;
  };
  for (const p of points) {
    if (p === null) {
      close();
      out.push(null);
      continue;
    }
    const x = Math.round(p[0]);
    if (col && col.x !== x) close();
    if (!col) {
      col = { x, first: p, lo: p, hi: p, last: p };
    } else {
      col.last = p;
      if (p[1] < col.lo[1]) col.lo = p;
      if (p[1] > col.hi[1]) col.hi = p;
    }
  }
  close();
  return out;
}

function panel(metric, logScale) {
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, "data-metric": metric.name, role: "img" });
  svg.appendChild(el("text", { x: W / 2, y: 18, "text-anchor": "middle", "font-weight": "600" }, metric.name));
  const points = metric.lines.flatMap((l) => l.points.filter((p) => p[1] !== null));
  const log = logScale && points.length > 0 && points.every((p) => p[1] > 0);
  if (points.length === 0) {
    svg.appendChild(el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", fill: "#777" }, "no finite values yet"));
    return svg;
  }
  const yOf = (v) => (log ? Math.log10(v) : v);
  const [x0, x1] = range(points.map((p) => p[0]));
  const [ylo, yhi] = range(points.map((p) => yOf(p[1])));
  // A little room above and below, so no line runs along the frame.
  const [y0, y1] = [ylo - (yhi - ylo) * 0.04, yhi + (yhi - ylo) * 0.04];
  const sx = (x) => M.left + ((x - x0) / (x1 - x0)) * (W - M.left - M.right);
  const sy = (y) => H - M.bottom - ((y - y0) / (y1 - y0)) * (H - M.top - M.bottom);
  const axes = el("g", { "font-size": "11", fill: "#555" });
  for (const t of ticks(x0, x1, 6)) {
    axes.appendChild(el("line", { x1: sx(t), x2: sx(t), y1: M.top, y2: H - M.bottom, stroke: "#eee" }));
    const label = Number.isInteger(t) ? String(t) : fmt(t);
    axes.appendChild(el("text", { x: sx(t), y: H - M.bottom + 14, "text-anchor": "middle" }, label));
  }
  const yTicks = log && y1 - y0 >= 1 ? ticks(y0, y1, 5).filter(Number.isInteger) : ticks(y0, y1, 5);
  for (const t of yTicks) {
    axes.appendChild(el("line", { x1: M.left, x2: W - M.right, y1: sy(t), y2: sy(t), stroke: "#eee" }));
    const label = log ? fmt(Math.pow(10, t)) : fmt(t);
    axes.appendChild(el("text", { x: M.left - 6, y: sy(t) + 4, "text-anchor": "end" }, label));
  }
  axes.appendChild(el("text", { x: (M.left + W - M.right) / 2, y: H - 6, "text-anchor": "middle" }, "step"));
  axes.appendChild(el("rect", {
    x: M.left, y: M.top, width: W - M.left - M.right, height: H - M.top - M.bottom, fill: "none", stroke: "#bbb",
  }));
  svg.appendChild(axes);
  // Thin per-batch lines first, so the split lines are drawn over them.
  const lines = [...metric.lines].sort((a, b) => (b.split === "batch") - (a.split === "batch"));
  for (const line of lines) {
    let last = null;
    const projected = line.points.map(([step, v]) => {
      if (v === null || (log && v <= 0)) return null;
      last = [step, v];
      return [sx(step), sy(yOf(v))];
    });
    let d = "", pen = false;
    for (const p of thin(projected)) {
      if (p === null) {
        pen = false;
        continue;
      }
      d += `${pen ? "L" : "M"}${p[0].toFixed(1)},${p[1].toFixed(1)}`;
      pen = true;
    }
    const batch = line.split === "batch";
    const attrs = { d, fill: "none", stroke: colour(line), "stroke-width": batch ? 1 : 2, "data-split": line.split };
    if (batch) attrs["stroke-opacity"] = 0.45;
    if (kind === "sweep" && SPLIT_DASH[line.split]) attrs["stroke-dasharray"] = SPLIT_DASH[line.split];
    svg.appendChild(el("path", attrs));
    // Few points (a record per epoch): each one marked, so a lone point shows too.
    const drawn = line.points.filter((p) => p[1] !== null && !(log && p[1] <= 0));
    if (!batch && drawn.length <= 60) {
      for (const [step, v] of drawn.slice(0, -1)) {
        svg.appendChild(el("circle", { cx: sx(step), cy: sy(yOf(v)), r: 2, fill: colour(line) }));
      }
    }
    if (last) {
      const who = kind === "sweep" ? runs[line.run].label + " " : "";
      const dot = el("circle", {
        cx: sx(last[0]), cy: sy(yOf(last[1])), r: batch ? 2 : 3, fill: colour(line),
        "data-run": line.run, "data-split": line.split, "data-step": last[0], "data-value": last[1],
      });
      dot.appendChild(el("title", {}, `${who}${line.split} ${metric.name} ${fmt(last[1])} at step ${last[0]}`));
      svg.appendChild(dot);
    }
  }
  return svg;
}

function legend(metrics) {
  const box = document.getElementById("legend");
  box.replaceChildren();
  const splits = [...new Set(metrics.flatMap((m) => m.lines.map((l) => l.split)))];
  for (const split of splits) {
    const sample = el("svg", { width: 28, height: 10 });
    const attrs = { x1: 1, x2: 27, y1: 5, y2: 5, stroke: kind === "sweep" ? "#333" : SPLIT_COLOURS[split] || "#444" };
    attrs["stroke-width"] = split === "batch" ? 1 : 2;
    if (kind === "sweep" && SPLIT_DASH[split]) attrs["stroke-dasharray"] = SPLIT_DASH[split];
    sample.appendChild(el("line", attrs));
    const item = document.createElement("span");
    item.append(sample, split === "batch" ? "batch (each recorded training batch)" : split);
    box.appendChild(item);
  }
}

function render() {
  const metrics = series();
  const logScale = document.getElementById("log").checked;
  document.getElementById("panels").replaceChildren(...metrics.map((m) => panel(m, logScale)));
  document.getElementById("empty").hidden = runs.some((r) => r.rows.length > 0);
  legend(metrics);
  const notes = document.getElementById("notes");
  notes.replaceChildren();
  for (const run of runs.filter((r) => r.damaged)) {
    const p = document.createElement("p");
    p.textContent = (runs.length > 1 ? run.label + ": " : "") + run.damaged;
    notes.appendChild(p);
  }
  for (const m of metrics) {
    for (const line of m.lines.filter((l) => l.bad)) {
      const p = document.createElement("p");
      const who = runs.length > 1 ? runs[line.run].label + ": " : "";
      p.textContent = `${who}${line.split} ${m.name} is ${line.bad.text} from step ${line.bad.step} (not drawn)`;
      notes.appendChild(p);
    }
  }
  const body = document.querySelector("#runs tbody");
  body.replaceChildren(...runs.map((run, i) => {
    const tr = document.createElement("tr");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    if (kind === "sweep") swatch.style.background = RUN_COLOURS[i % RUN_COLOURS.length];
    const last = run.rows.length ? run.rows[run.rows.length - 1][0] : "–";
    const cells = [swatch, run.label, run.state, String(last), String(run.rows.length)];
    cells.forEach((c, k) => {
      const td = document.createElement("td");
      if (k >= 3) td.className = "num";
      td.append(c);
      tr.appendChild(td);
    });
    return tr;
  }));
}

function showStatus() {
  const status = document.getElementById("status");
  status.className = connected ? "" : "lost";
  status.textContent = connected
    ? "live · updated " + updated.toLocaleTimeString()
    : "not connected: the run has ended or the server stopped (retrying)";
}

document.getElementById("log").addEventListener("change", render);
poll();
