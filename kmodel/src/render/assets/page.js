// kmodel's run page: draws the timeline from the JSON in #kmodel-data
// (docs/trace-schema.md), steps a cursor through the operations, and shows
// the page under the pointer. No network, no libraries.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("kmodel-data").textContent);
  const NS = "http://www.w3.org/2000/svg";
  const ROWS = ["user", "pipe", "page_cache", "unsent", "on_the_wire", "unacked", "receiver", "kernel"];
  const TITLES = { user: "user", pipe: "pipe slots", page_cache: "page cache", unsent: "socket unsent",
    on_the_wire: "on the wire", unacked: "socket unacked", receiver: "receiver queue", kernel: "kernel" };
  const steps = data.steps, lanes = data.lanes;
  const ms = ns => (ns / 1e6).toFixed(3).replace(/\.?0+$/, "") + " ms";
  const $ = id => document.getElementById(id);
  const el = (tag, attrs, parent) => {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  };

  // Page events by lane, for the details panel.
  const laneEvents = lanes.map(() => []);
  for (const e of data.events) if (e.type === "page" && e.lane !== null && e.lane !== undefined) laneEvents[e.lane].push(e);
  const hazards = steps.filter(s => s.hazard).length;

  $("path").textContent = data.path;
  $("summary").textContent = steps.length + " operations, " + lanes.length + (lanes.length === 1 ? " lane" : " lanes") + " of pages, " +
    hazards + (hazards === 1 ? " hazard" : " hazards") +
    (data.time_axis === "ms" ? ", simulated time " + ms(steps.length ? steps[steps.length - 1].time_ns : 0) : "") +
    ". Left/Right arrows step through the operations.";

  // The scenario text, one item per line.
  const ops = new Map();
  steps.forEach((s, i) => { if (!ops.has(s.line)) ops.set(s.line, i); });
  const hazardLines = new Set(steps.filter(s => s.hazard).map(s => s.line));
  const list = $("lines");
  const items = [];
  data.source.forEach((text, i) => {
    const n = i + 1, li = document.createElement("li");
    li.dataset.line = n;
    li.id = "L" + n;
    const ln = document.createElement("span");
    ln.className = "ln";
    ln.textContent = n;
    li.appendChild(ln);
    li.appendChild(document.createTextNode(text));
    if (ops.has(n)) { li.classList.add("op"); li.addEventListener("click", () => go(ops.get(n))); }
    else if (/^\s*#/.test(text)) li.classList.add("comment");
    if (hazardLines.has(n)) li.classList.add("hazard-line");
    list.appendChild(li);
    items.push(li);
  });

  // Geometry.
  const svg = $("timeline");
  const labelW = 170, top = 34, rowH = 12, laneGap = 10, headH = 16;
  let y = top;
  const laneY = [];
  for (const lane of lanes) { laneY.push(y); y += headH + lane.rows.length * rowH + laneGap; }
  const height = y + 4;
  // Column edges: xs[i] is where step i starts, xs[steps.length] the end.
  // By operations every column has the same width; by simulated time a
  // column is a few pixels plus its share of the run's time.
  let xs = [], cursor = null, byTime = false;
  const x = i => xs[Math.min(i, steps.length)];
  const w = i => xs[i + 1] - xs[i];
  const startNs = i => (i === 0 ? 0 : steps[i - 1].time_ns);
  function layout() {
    const avail = Math.max(400, $("chart").clientWidth - 20) - labelW - 10, n = Math.max(1, steps.length);
    const total = steps.length ? steps[steps.length - 1].time_ns : 0;
    xs = [labelW];
    if (byTime && total > 0) {
      const minW = 3, room = Math.max(avail - n * minW, 4 * n);
      for (let i = 0; i < steps.length; i++) xs.push(xs[i] + minW + (steps[i].time_ns - startNs(i)) / total * room);
    } else {
      const colW = Math.max(3, Math.min(28, Math.floor(avail / n)));
      for (let i = 0; i < steps.length; i++) xs.push(xs[i] + colW);
    }
  }
  // By time, a lane's change inside a step (an ACK arriving during
  // "advance 5s") is drawn when its page events happened.
  const laneStepTime = laneEvents.map(evs => {
    const m = new Map();
    for (const e of evs) if (e.step !== null) m.set(e.step, Math.max(m.get(e.step) || 0, e.time_ns));
    return m;
  });
  const edge = (li, i) => {
    if (!byTime || i >= steps.length) return x(i);
    const t = laneStepTime[li].get(i), s0 = startNs(i), d = steps[i].time_ns - s0;
    return t === undefined || d <= 0 ? x(i) : x(i) + w(i) * Math.min(1, Math.max(0, (t - s0) / d));
  };
  const fmtMs = ns => { const v = ns / 1e6; return (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2).replace(/\.?0+$/, "")) + "ms"; };

  // The x of simulated time t: inside the step that was running then.
  function timeX(t) {
    let i = 0;
    while (i < steps.length - 1 && steps[i].time_ns < t) i++;
    const s0 = startNs(i), d = steps[i].time_ns - s0;
    return d > 0 ? x(i) + w(i) * Math.min(1, Math.max(0, (t - s0) / d)) : x(i);
  }
  // Round times (1, 2 or 5 x 10^k ms) at least 70 px apart.
  function timeTicks(ruler) {
    const total = steps.length ? steps[steps.length - 1].time_ns : 0;
    if (total <= 0) return;
    let step = 1e3;
    for (let k = 0; step < total; k++) {
      step = [1, 2, 5][k % 3] * Math.pow(10, Math.floor(k / 3) + 3);
      if (timeX(step) - timeX(0) >= 70 || step >= total) break;
    }
    for (let t = 0; t <= total; t += step) {
      const tx = timeX(t);
      el("line", { x1: tx, x2: tx, y1: 16, y2: 30, class: "grid" }, ruler);
      el("text", { x: tx + 2, y: 26, class: "tick" }, ruler).textContent = fmtMs(t);
    }
  }

  function draw() {
    layout();
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const width = Math.ceil(x(steps.length)) + 50;
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    // Ruler: line numbers (and time) where they fit.
    const ruler = el("g", { class: "ruler" }, svg);
    el("text", { x: 4, y: 12, class: "tick" }, ruler).textContent = "line";
    if (data.time_axis === "ms") el("text", { x: 4, y: 26, class: "tick" }, ruler).textContent = byTime ? "time" : "time after";
    let nextLine = -1, nextTime = -1;
    for (let i = 0; i < steps.length; i++) {
      if (x(i) >= nextLine) {
        el("line", { x1: x(i), x2: x(i), y1: top - 4, y2: height, class: "grid" }, ruler);
        el("text", { x: x(i) + 1, y: 12, class: "tick" }, ruler).textContent = steps[i].line;
        nextLine = x(i) + 8 * String(steps[i].line).length + 6;
      }
      if (data.time_axis === "ms" && !byTime && x(i) >= nextTime) {
        const t = fmtMs(byTime ? startNs(i) : steps[i].time_ns);
        el("text", { x: x(i) + 1, y: 26, class: "tick" }, ruler).textContent = t;
        nextTime = x(i) + 7 * t.length + 8;
      }
    }
    if (byTime) timeTicks(ruler);
    cursor = el("rect", { id: "cursor", x: x(cur), y: top - 4, width: Math.max(2, w(cur) || 0), height: height - top + 4 }, svg);
    // Lanes: a band, the label, a row per kind of holder, spans, marks.
    lanes.forEach((lane, li) => {
      const g = el("g", { class: "lane", "data-lane": li, transform: "translate(0," + laneY[li] + ")" }, svg);
      if (pinned === li) g.classList.add("pinned");
      const h = headH + lane.rows.length * rowH;
      el("rect", { class: "band", x: 0, y: -2, width: width, height: h + 4 }, g);
      el("text", { class: "lanelabel", x: 4, y: 11 }, g).textContent = lane.label;
      lane.rows.forEach((r, k) => {
        el("text", { class: "rowname", x: 14, y: headH + k * rowH + 9 }, g).textContent = TITLES[r];
      });
      for (const s of lane.spans) {
        for (const r of s.rows) {
          const k = lane.rows.indexOf(r);
          const x0 = edge(li, s.from), x1 = edge(li, s.to);
          const rect = el("rect", { class: "hold row-" + r, x: x0, y: headH + k * rowH + 1,
            width: Math.max(1, x1 - x0 - 1), height: rowH - 2, fill: "var(--" + r + ")" }, g);
          el("title", {}, rect).textContent = TITLES[r] + ", lines " + steps[s.from].line + "-" + steps[s.to - 1].line + ": " + s.holders;
        }
      }
      for (const m of lane.marks) {
        const cx = x(m.step) + w(m.step) / 2;
        if (m.kind === "hazard") {
          const d = Math.max(5, Math.min(8, w(m.step) / 2 + 2));
          const mark = el("path", { class: "hazard", "data-step": m.step,
            d: "M" + cx + " " + (headH - d - 2) + " l" + d + " " + (d * 1.6) + " h" + (-2 * d) + " z" }, g);
          el("title", {}, mark).textContent = "HAZARD at line " + steps[m.step].line + ": " + steps[m.step].text + "\n" + steps[m.step].hazard;
        } else {
          const c = el("circle", { class: m.kind === "user_write" ? "write" : "kwrite", cx: cx, cy: headH - 5,
            r: Math.max(1.5, Math.min(3.5, w(m.step) / 3)) }, g);
          el("title", {}, c).textContent = (m.kind === "user_write" ? "user write" : "kernel write") + " at line " + steps[m.step].line;
        }
      }
      g.addEventListener("mouseenter", () => { hovered = li; details(); });
      g.addEventListener("click", () => { for (const p of svg.querySelectorAll("g.lane.pinned")) p.classList.remove("pinned");
        pinned = pinned === li ? null : li; if (pinned !== null) g.classList.add("pinned"); details(); });
    });
  }
  svg.addEventListener("click", ev => {
    const px = ev.clientX - svg.getBoundingClientRect().left;
    let i = 0;
    while (i < steps.length && x(i + 1) <= px) i++;
    if (px >= labelW && i < steps.length) go(i);
  });
  if (data.time_axis === "ms") {
    const label = document.createElement("label"), box = document.createElement("input");
    box.type = "checkbox"; box.id = "bytime";
    label.appendChild(box); label.appendChild(document.createTextNode(" by time (t)"));
    $("controls").appendChild(label);
    box.addEventListener("change", () => { byTime = box.checked; draw(); go(cur); });
  }

  // Legend.
  const legend = $("legend");
  const used = new Set(lanes.flatMap(l => l.rows));
  const key = (color, text) => {
    const k = document.createElement("span"); k.className = "key";
    const sw = document.createElement("span"); sw.className = "sw"; sw.style.background = color;
    k.appendChild(sw); k.appendChild(document.createTextNode(text)); legend.appendChild(k);
  };
  for (const r of ROWS) if (used.has(r)) key("var(--" + r + ")", TITLES[r]);
  key("#1b6fb3", "user write (dot)");
  if (lanes.some(l => l.marks.some(m => m.kind === "kernel_write"))) key("#999", "kernel write (grey dot)");
  key("var(--hazard)", "hazard: a write to a page a kernel object holds (triangle)");

  // The cursor and the details panel.
  let cur = 0, hovered = null, pinned = null;
  const slider = $("slider");
  slider.max = Math.max(0, steps.length - 1);
  // The ten items of a list sorted by step nearest the cursor.
  function near(list, stepOf) {
    if (list.length <= 10) return list;
    let i = 0;
    while (i < list.length && stepOf(list[i]) <= cur) i++;
    const start = Math.max(0, Math.min(list.length - 10, i - 5));
    return list.slice(start, start + 10);
  }
  function details() {
    const li = pinned !== null ? pinned : hovered, box = $("details");
    if (li === null) return;
    const lane = lanes[li], span = lane.spans.find(s => s.from <= cur && cur < s.to);
    const esc = t => String(t).replace(/[&<>]/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" })[c]);
    const evs = laneEvents[li].filter(e => e.step !== null && e.step <= cur).slice(-12);
    const marks = near(lane.marks, m => m.step).map(m => (m.kind === "hazard" ? '<span class="haz">HAZARD</span>' : m.kind.replace("_", " ")) +
      " at line " + steps[m.step].line).join("<br>") || "none";
    box.innerHTML = "<h2>" + esc(lane.label) + "</h2><dl>" +
      "<dt>frames</dt><dd>" + esc(lane.frames.slice(0, 8).join(", ") + (lane.frames.length > 8 ? ", ..." : "")) + "</dd>" +
      "<dt>after line " + steps[cur].line + "</dt><dd>" + (span ? esc(span.holders) + (span.rows.some(r => r !== "user" && r !== "kernel") ? " (busy)" : " (reusable)") : "no page") + "</dd>" +
      "<dt>holders over time" + (lane.spans.length > 10 ? " (10 around here of " + lane.spans.length + ")" : "") + "</dt><dd>" +
        near(lane.spans, s => s.from).map(s => "from " + steps[s.from].line + ": " + esc(s.holders)).join("<br>") + "</dd>" +
      "<dt>writes" + (lane.marks.length > 10 ? " (10 around here of " + lane.marks.length + ")" : "") + "</dt><dd>" + marks + "</dd>" +
      "<dt>page events up to here (last 12)</dt><dd>" + (evs.map(e => "line " + e.line + ": " + e.event + " " + esc(e.page) +
        (e.holder ? " " + esc(e.holder.kind + " " + e.holder.name) : "") + (data.time_axis === "ms" ? " @" + ms(e.time_ns) : "")).join("<br>") || "none") + "</dd></dl>";
  }
  function go(i) {
    if (!steps.length) return;
    cur = Math.max(0, Math.min(steps.length - 1, i));
    slider.value = cur;
    cursor.setAttribute("x", x(cur));
    cursor.setAttribute("width", Math.max(2, w(cur)));
    const s = steps[cur];
    for (const li of list.querySelectorAll("li.current")) li.classList.remove("current");
    const item = items[s.line - 1];
    if (item) { item.classList.add("current"); item.scrollIntoView({ block: "nearest" }); }
    const info = $("stepinfo");
    info.textContent = "operation " + (cur + 1) + "/" + steps.length + ", line " + s.line + ": " + s.text + " => " + s.result +
      (data.time_axis === "ms" ? " (t=" + ms(s.time_ns) + ")" : "");
    if (s.hazard) { const h = document.createElement("span"); h.className = "haz"; h.textContent = "  HAZARD: " + s.hazard; info.appendChild(h); }
    document.body.dataset.step = cur;
    details();
  }
  slider.addEventListener("input", () => go(Number(slider.value)));
  $("prev").addEventListener("click", () => go(cur - 1));
  $("next").addEventListener("click", () => go(cur + 1));
  document.addEventListener("keydown", ev => {
    if (ev.target === slider) return;
    const k = ev.key;
    if (k === "ArrowRight" || k === "j") go(cur + 1);
    else if (k === "ArrowLeft" || k === "k") go(cur - 1);
    else if (k === "Home") go(0);
    else if (k === "End") go(steps.length - 1);
    else if (k === "t" && $("bytime")) { $("bytime").click(); }
    else return;
    ev.preventDefault();
  });
  draw();
  go(0);
  if (lanes.length) { hovered = 0; details(); }
  document.body.dataset.ready = "1";
})();
