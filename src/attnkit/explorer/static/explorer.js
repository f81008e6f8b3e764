// attnkit explorer — the page over the JSON API (/api/...). Hand-written, no libraries,
// no network beyond its own server; in an exported page (attnkit explore --export) the
// answers are embedded and no server is asked at all.
"use strict";

const $ = (id) => document.getElementById(id);
const EMBEDDED = (() => {
  const node = document.getElementById("attnkit-data");
  return node ? JSON.parse(node.textContent) : null;
})();

// ------------------------------------------------------------------ requests

// The key an exported answer is stored under (attnkit.explorer.export.request_key):
// the path and the body as JSON with sorted keys.
function canonical(value) {
  if (Array.isArray(value)) return "[" + value.map(canonical).join(",") + "]";
  if (value && typeof value === "object") {
    return "{" + Object.keys(value).sort()
      .map((k) => JSON.stringify(k) + ":" + canonical(value[k])).join(",") + "}";
  }
  return JSON.stringify(value);
}
function requestKey(path, body) { return path + "|" + (body ? canonical(body) : ""); }

async function api(path, body) {
  if (EMBEDDED) {
    const answer = EMBEDDED.responses[requestKey(path, body)];
    if (!answer) throw new Error("this exported page holds the views of its own text only: run `attnkit explore` to ask for more");
    return answer;
  }
  const options = body ? { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) } : {};
  const response = await fetch(path, options);
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}
async function runsList() { return EMBEDDED ? EMBEDDED.runs : api("/api/runs"); }

// ------------------------------------------------------------------ state (URL hash)

const state = { run: "", compare: "", text: "", view: "head", stack: "", layer: 0, head: "all", query: -1, from: 0, to: 64, step: 0 };
let RUNS = [];
let current = { a: null, b: null }; // the attention answers of run A and run B
let figure = null; // {svg(): string, canvas(): HTMLCanvasElement} of the current view, for export

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  for (const key of Object.keys(state)) {
    if (!params.has(key)) continue;
    const value = params.get(key);
    state[key] = typeof state[key] === "number" ? Number(value) : value;
  }
}
function writeHash() {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(state)) params.set(key, String(value));
  history.replaceState(null, "", "#" + params.toString());
}
function status(message, busy) {
  $("status").textContent = message || "";
  $("status").className = busy ? "busy" : "";
}
function runById(id) { return RUNS.find((r) => r.id === id); }
function can(run, what) { return run && run.can.includes(what); }

// ------------------------------------------------------------------ drawing helpers

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") node.textContent = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v); else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child);
  return node;
}
const SVGNS = "http://www.w3.org/2000/svg";
function svgEl(tag, attrs, text) {
  const node = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}
function headColour(h, heads) { return `hsl(${Math.round((h * 360) / Math.max(heads, 1))}, 70%, 42%)`; }
function heat(w) {
  const x = Math.max(0, Math.min(1, w || 0));
  return `rgb(${Math.round(255 - 220 * x)}, ${Math.round(255 - 170 * x)}, ${Math.round(255 - 75 * x)})`;
}
function fmt(x, digits = 3) { return x === null || x === undefined ? "—" : Number(x).toFixed(digits); }
function escapeXml(s) { return String(s).replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]); }

// The map of one layer: one head, or the mean of the heads ("all").
function layerMap(stack, layer, head) {
  const heads = stack.maps[layer];
  if (head !== "all") return heads[Number(head)];
  return heads[0].map((row, i) => row.map((_, j) => heads.reduce((s, h) => s + h[i][j], 0) / heads.length));
}
function range(n, selfAttention) {
  const from = Math.max(0, Math.min(state.from, n - 1));
  const to = Math.max(from + 1, Math.min(state.to, n));
  return selfAttention ? [from, to] : [from, to];
}

// A heatmap on a canvas: rows = queries, columns = keys, labels on the axes.
function drawMatrix(matrix, rowLabels, colLabels, options = {}) {
  const rows = matrix.length, cols = matrix[0].length;
  const cell = options.cell || Math.max(3, Math.min(26, Math.floor(620 / Math.max(rows, cols))));
  const labels = options.labels !== false && cell >= 8;
  const left = labels ? 90 : 0, top = labels ? 70 : 0;
  const canvas = el("canvas", { class: "matrix" });
  canvas.width = left + cols * cell + 10;
  canvas.height = top + rows * cell + 10;
  const g = canvas.getContext("2d");
  g.fillStyle = "#fff"; g.fillRect(0, 0, canvas.width, canvas.height);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) {
    g.fillStyle = heat(matrix[i][j]); g.fillRect(left + j * cell, top + i * cell, cell, cell);
  }
  if (labels) {
    g.fillStyle = "#1d2330"; g.font = `${Math.min(12, cell)}px monospace`;
    g.textAlign = "right"; g.textBaseline = "middle";
    rowLabels.forEach((t, i) => g.fillText(t, left - 4, top + i * cell + cell / 2));
    colLabels.forEach((t, j) => {
      g.save(); g.translate(left + j * cell + cell / 2, top - 4); g.rotate(-Math.PI / 3);
      g.textAlign = "left"; g.fillText(t, 0, 0); g.restore();
    });
  }
  canvas.dataset.cell = cell; canvas.dataset.left = left; canvas.dataset.top = top;
  if (options.hover) {
    canvas.addEventListener("mousemove", (event) => {
      const box = canvas.getBoundingClientRect();
      const j = Math.floor((event.clientX - box.left - left) / cell), i = Math.floor((event.clientY - box.top - top) / cell);
      if (i >= 0 && i < rows && j >= 0 && j < cols) options.hover(i, j, matrix[i][j]);
    });
  }
  const svg = () => {
    const parts = [`<svg xmlns="${SVGNS}" width="${canvas.width}" height="${canvas.height}" font-family="monospace" font-size="${Math.min(12, cell)}">`,
      `<rect width="100%" height="100%" fill="#fff"/>`];
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) {
      parts.push(`<rect x="${left + j * cell}" y="${top + i * cell}" width="${cell}" height="${cell}" fill="${heat(matrix[i][j])}"><title>${escapeXml(rowLabels[i])} → ${escapeXml(colLabels[j])}: ${fmt(matrix[i][j], 4)}</title></rect>`);
    }
    if (labels) {
      rowLabels.forEach((t, i) => parts.push(`<text x="${left - 4}" y="${top + i * cell + cell / 2}" text-anchor="end" dominant-baseline="middle">${escapeXml(t)}</text>`));
      colLabels.forEach((t, j) => parts.push(`<text transform="translate(${left + j * cell + cell / 2},${top - 4}) rotate(-60)">${escapeXml(t)}</text>`));
    }
    parts.push("</svg>");
    return parts.join("");
  };
  return { node: canvas, canvas: () => canvas, svg };
}

// ------------------------------------------------------------------ views over text

function currentStack(answer) {
  if (!answer || !answer.stacks) return null;
  return answer.stacks[state.stack] || Object.values(answer.stacks)[0];
}

function headView(answer, target) {
  const stack = currentStack(answer);
  const selfAttention = state.stack !== "cross";
  const [from, to] = range(stack.queries.length, selfAttention);
  const [kfrom, kto] = selfAttention ? [from, Math.min(to, stack.keys.length)] : [0, stack.keys.length];
  const queries = stack.queries.slice(from, to), keys = stack.keys.slice(kfrom, kto);
  const heads = stack.maps[state.layer].length;
  const shown = state.head === "all" ? [...Array(heads).keys()] : [Number(state.head)];
  const rowH = 18, width = 520, height = Math.max(queries.length, keys.length) * rowH + 40;
  const svg = svgEl("svg", { xmlns: SVGNS, width, height, class: "head-view" });
  svg.append(svgEl("rect", { width, height, fill: "#fff" }));
  svg.append(svgEl("text", { x: 150, y: 14, "text-anchor": "end", fill: "#6a7280" }, "query"));
  svg.append(svgEl("text", { x: 370, y: 14, fill: "#6a7280" }, "key"));
  const lines = svgEl("g", {});
  svg.append(lines);
  const y = (i) => 34 + i * rowH;
  const weightLabels = keys.map((_, j) => svgEl("text", { x: 480, y: y(j), class: "weight", "data-key": kfrom + j, "dominant-baseline": "middle" }, ""));
  const draw = (only) => {
    lines.replaceChildren();
    for (const h of shown) {
      const map = stack.maps[state.layer][h];
      queries.forEach((_, i) => {
        if (only !== undefined && i !== only) return;
        keys.forEach((_, j) => {
          const w = map[from + i][kfrom + j];
          if (w < 0.01) return;
          lines.append(svgEl("line", { x1: 156, y1: y(i), x2: 364, y2: y(j), stroke: headColour(h, heads), "stroke-width": 1 + 3 * w, "stroke-opacity": Math.min(1, w * (only === undefined ? 0.9 : 1.2)) }));
        });
      });
    }
    weightLabels.forEach((label, j) => {
      if (only === undefined) { label.textContent = ""; return; }
      const values = shown.map((h) => stack.maps[state.layer][h][from + only][kfrom + j]);
      label.textContent = fmt(values.reduce((a, b) => a + b, 0) / values.length);
    });
  };
  queries.forEach((t, i) => {
    const token = svgEl("text", { x: 150, y: y(i), "text-anchor": "end", "dominant-baseline": "middle", class: "tok q" + (from + i === state.query ? " selected" : ""), "data-query": from + i }, t);
    token.addEventListener("mouseenter", () => { draw(i); $("hover-value").textContent = `query ${from + i} “${t}”`; });
    token.addEventListener("mouseleave", () => draw(state.query >= from && state.query < to ? state.query - from : undefined));
    token.addEventListener("click", () => { state.query = from + i; writeHash(); render(); });
    svg.append(token);
  });
  keys.forEach((t, j) => svg.append(svgEl("text", { x: 370, y: y(j), "dominant-baseline": "middle", class: "tok k", "data-key": kfrom + j }, t)));
  weightLabels.forEach((label) => svg.append(label));
  shown.forEach((h, n) => svg.append(svgEl("rect", { x: 10 + n * 14, y: height - 14, width: 12, height: 8, fill: headColour(h, heads) })));
  draw(state.query >= from && state.query < to ? state.query - from : undefined);
  target.append(svg);
  return { node: svg, svg: () => new XMLSerializer().serializeToString(svg) };
}

function modelView(answer, target) {
  const stack = currentStack(answer);
  const layers = stack.maps.length, heads = stack.maps[0].length;
  const grid = el("div", { class: "grid", style: `grid-template-columns: repeat(${heads}, auto)` });
  const n = Math.max(stack.queries.length, stack.keys.length);
  const cell = Math.max(1, Math.floor(96 / n));
  const pieces = [];
  for (let l = 0; l < layers; l++) for (let h = 0; h < heads; h++) {
    const m = drawMatrix(stack.maps[l][h], stack.queries, stack.keys, { cell, labels: false });
    pieces.push(m);
    const fig = el("figure", { "data-layer": l, "data-head": h, onclick: () => { state.layer = l; state.head = String(h); state.view = "matrix"; writeHash(); render(); } },
      m.node, el("figcaption", { text: `layer ${l} · head ${h}` }));
    grid.append(fig);
  }
  target.append(grid);
  const canvas = () => {
    const w = pieces[0].node.width, hgt = pieces[0].node.height + 14;
    const out = el("canvas"); out.width = heads * (w + 6); out.height = layers * (hgt + 6);
    const g = out.getContext("2d"); g.fillStyle = "#fff"; g.fillRect(0, 0, out.width, out.height);
    g.fillStyle = "#6a7280"; g.font = "10px monospace";
    pieces.forEach((p, k) => {
      const l = Math.floor(k / heads), h = k % heads;
      g.drawImage(p.node, h * (w + 6), l * (hgt + 6));
      g.fillText(`L${l} H${h}`, h * (w + 6), l * (hgt + 6) + hgt - 2);
    });
    return out;
  };
  return { node: grid, canvas };
}

function matrixView(answer, target) {
  const stack = currentStack(answer);
  const selfAttention = state.stack !== "cross";
  const [from, to] = range(stack.queries.length, selfAttention);
  const [kfrom, kto] = selfAttention ? [from, Math.min(to, stack.keys.length)] : [0, stack.keys.length];
  const full = layerMap(stack, state.layer, state.head);
  const matrix = full.slice(from, to).map((row) => row.slice(kfrom, kto));
  const rows = stack.queries.slice(from, to), cols = stack.keys.slice(kfrom, kto);
  const m = drawMatrix(matrix, rows, cols, {
    hover: (i, j, w) => { $("hover-value").textContent = `${rows[i]} → ${cols[j]}: ${fmt(w, 4)}`; $("hover-value").dataset.value = w; },
  });
  target.append(m.node);
  return m;
}

async function workedView(run, target) {
  const stack = currentStack(current.a);
  if (!stack) return null;
  const query = state.query >= 0 && state.query < stack.queries.length ? state.query : stack.queries.length - 1;
  const head = state.head === "all" ? 0 : Number(state.head);
  const answer = await api("/api/worked", { run: run.id, text: state.text, stack: state.stack, layer: state.layer, head, query });
  const d = answer.head_dim;
  target.append(el("p", { class: "formula", text: `layer ${answer.layer} · head ${answer.head} · query “${answer.query_token}” (position ${query}) · d = ${d}:  weights = softmax(q·k / √${d}${answer.bias ? " + bias" : ""}, masked) ;  output = Σ weight · v` }));
  target.append(el("p", { class: "vector", text: "q = [" + answer.q.map((x) => fmt(x, 2)).join(", ") + "]" }));
  const table = el("table", { class: "worked" });
  const headRow = ["key", "q·k", answer.scale ? `÷√${d}` : "score", ...(answer.bias ? ["+ bias"] : []), "mask", "softmax", ""];
  table.append(el("tr", {}, ...headRow.map((h) => el("th", { text: h }))));
  const maxWeight = Math.max(...answer.weights);
  answer.keys.forEach((key, j) => {
    const keep = answer.mask[j];
    const cells = [el("td", { class: "tok", text: key, title: "k = [" + answer.k[j].map((x) => fmt(x, 2)).join(", ") + "]" }),
      el("td", { text: fmt(answer.raw[j]) }), el("td", { text: fmt(answer.scaled[j]) }),
      ...(answer.bias ? [el("td", { text: fmt(answer.bias[j]) })] : []),
      el("td", { text: keep ? "keep" : "−∞" }), el("td", { class: "weight", text: fmt(answer.weights[j], 4) }),
      el("td", {}, el("span", { class: "bar", style: `width:${Math.round(120 * answer.weights[j] / (maxWeight || 1))}px` }))];
    table.append(el("tr", { class: keep ? "" : "masked", "data-key": j }, ...cells));
  });
  target.append(table);
  target.append(el("p", { class: "vector", text: "output = Σ weight · v = [" + answer.output.map((x) => fmt(x, 2)).join(", ") + "]" }));
  target.append(el("p", { class: "note", id: "worked-check", text: `the softmax weights above equal the ones the model returned to ${answer.max_abs_difference.toExponential(1)}` }));
  return null;
}

// ------------------------------------------------------------------ task views

async function nextView(run, target) {
  const answer = await api("/api/next-token", { run: run.id, text: state.text, top_k: 10 });
  target.append(el("p", { class: "note", text: "the next token after your text (temperature 1); click one to append it" }));
  const list = el("ul", { class: "candidates" });
  for (const c of answer.candidates) {
    list.append(el("li", {}, el("button", { "data-token": c.token, onclick: () => { state.text += c.token; $("text").value = state.text; state.query = -1; show(); }, text: JSON.stringify(c.token) }),
      el("span", { class: "bar", style: `width:${Math.round(300 * c.prob)}px` }), el("span", { class: "prob", text: fmt(c.prob, 4) })));
  }
  target.append(list);
  return null;
}

async function fillView(run, target) {
  const answer = await api("/api/fill-mask", { run: run.id, text: state.text, top_k: 5 });
  answer.masks.forEach((mask, n) => {
    target.append(el("h2", { text: `[MASK] ${n + 1} (token ${mask.position})` }));
    const list = el("ul", { class: "candidates" });
    for (const c of mask.candidates) {
      list.append(el("li", {}, el("button", { text: c.token, onclick: () => { state.text = state.text.replace("[MASK]", c.token.trim()); $("text").value = state.text; show(); } }),
        el("span", { class: "bar", style: `width:${Math.round(300 * c.prob)}px` }), el("span", { class: "prob", text: fmt(c.prob, 4) })));
    }
    target.append(list);
  });
  return null;
}

async function translateView(run, target) {
  const answer = await api("/api/translate", { run: run.id, text: state.text, beam: 4, top_k: 5 });
  const steps = answer.steps;
  const step = Math.max(0, Math.min(state.step, steps.length - 1));
  target.append(el("p", {}, el("b", { text: "translation: " }), el("span", { id: "translation", text: answer.translation })));
  const bar = el("div", { class: "steps" });
  bar.append(el("button", { id: "step-prev", text: "◀", onclick: () => { state.step = Math.max(0, step - 1); writeHash(); render(); } }));
  steps.forEach((s, i) => bar.append(el("button", { class: i === step ? "current" : "", "data-step": i, text: s.token, onclick: () => { state.step = i; writeHash(); render(); } })));
  bar.append(el("button", { id: "step-next", text: "▶", onclick: () => { state.step = Math.min(steps.length - 1, step + 1); writeHash(); render(); } }));
  target.append(bar);
  const s = steps[step];
  target.append(el("p", { id: "step-info", text: `step ${step}: produced “${s.token}” with probability ${fmt(s.prob, 4)}` }));
  const alts = el("ul", { class: "candidates" });
  for (const a of s.alternatives) alts.append(el("li", {}, el("span", { text: a.token, style: "min-width:6em" }), el("span", { class: "bar", style: `width:${Math.round(200 * a.prob)}px` }), el("span", { text: fmt(a.prob, 4) })));
  target.append(el("h2", { text: "alternatives at this step" }), alts);
  const layer = Math.min(state.layer, s.cross.length - 1);
  const pick = (c) => (state.head === "all" || c.length === 1 ? c[0].map((_, j) => c.reduce((t, h) => t + h[j], 0) / c.length) : c[Number(state.head)]);
  target.append(el("h2", { text: `cross-attention of this step over the source (layer ${layer})` }));
  const row = drawMatrix([pick(s.cross[layer])], [s.token], answer.source, { cell: 22 });
  target.append(row.node);
  target.append(el("h2", { text: "alignment so far (rows: output tokens, columns: source tokens)" }));
  const alignment = drawMatrix(steps.slice(0, step + 1).map((t) => pick(t.cross[layer])), steps.slice(0, step + 1).map((t) => t.token), answer.source, {
    hover: (i, j, w) => { $("hover-value").textContent = `${steps[i].token} → ${answer.source[j]}: ${fmt(w, 4)}`; },
  });
  target.append(alignment.node);
  target.append(el("h2", { text: "beam search: the best translations and their scores (sum of log-probabilities)" }));
  const beam = el("ol", { id: "beam" });
  for (const b of answer.beam) beam.append(el("li", { text: `${b.text}   (${fmt(b.score, 3)})` }));
  target.append(beam);
  return alignment;
}

let image = null; // the base64 image the image view shows
async function imageView(run, target) {
  if (can(run, "samples")) {
    const gallery = el("div", { class: "samples" });
    const samples = await api(EMBEDDED ? `/api/samples?run=${run.id}` : `/api/samples?run=${encodeURIComponent(run.id)}`);
    samples.samples.forEach((s, i) => gallery.append(el("img", { src: s.image, title: s.name, alt: s.name, "data-sample": i, onclick: () => { image = s.image; render(); } })));
    if (!image && samples.samples.length) image = samples.samples[0].image;
    target.append(gallery);
  }
  if (!EMBEDDED) {
    const upload = el("input", { type: "file", accept: "image/png,image/jpeg", id: "upload" });
    upload.addEventListener("change", () => {
      const reader = new FileReader();
      reader.onload = () => { image = reader.result; render(); };
      if (upload.files[0]) reader.readAsDataURL(upload.files[0]);
    });
    target.append(el("label", {}, "your image: ", upload));
  }
  if (!image) return null;
  const answer = await api("/api/image-attention", { run: run.id, image });
  const picture = await loadImage(answer.image);
  const [rows, cols] = answer.grid;
  const figures = el("div", { class: "images" });
  const overlays = [];
  const add = (title, weights) => {
    const c = overlay(picture, weights, rows, cols);
    overlays.push(c);
    figures.append(el("figure", {}, c, el("figcaption", { text: title })));
  };
  if (answer.kind === "classifier") {
    target.append(el("p", { id: "prediction", text: "prediction: " + answer.predictions.map((p) => `${p.label} ${fmt(p.prob, 3)}`).join(" · ") }));
    const mean = (heads) => heads[0].map((_, j) => heads.reduce((t, h) => t + h[j], 0) / heads.length);
    answer.class_attention.forEach((heads, l) => add(`layer ${l} (${state.head === "all" ? "mean of heads" : "head " + state.head})`, state.head === "all" ? mean(heads) : heads[Number(state.head)]));
    add("attention rollout", answer.rollout);
  } else {
    target.append(el("p", { id: "prediction", text: `caption: “${answer.caption}”` }));
    const layer = Math.min(state.layer, answer.cross.length - 1);
    answer.words.forEach((w, t) => {
      const heads = answer.cross[layer];
      const weights = state.head === "all" ? heads[0][t].map((_, j) => heads.reduce((s, h) => s + h[t][j], 0) / heads.length) : heads[Number(state.head)][t];
      add(`“${w}” (layer ${layer})`, weights);
    });
  }
  target.append(figures);
  const canvas = () => {
    const w = overlays[0].width + 8, out = el("canvas");
    out.width = overlays.length * w; out.height = overlays[0].height;
    const g = out.getContext("2d"); g.fillStyle = "#fff"; g.fillRect(0, 0, out.width, out.height);
    overlays.forEach((c, i) => g.drawImage(c, i * w, 0));
    return out;
  };
  return { canvas, svg: () => `<svg xmlns="${SVGNS}" width="${canvas().width}" height="${canvas().height}"><image href="${canvas().toDataURL("image/png")}" width="${canvas().width}" height="${canvas().height}"/></svg>` };
}
function loadImage(src) {
  return new Promise((resolve, reject) => { const img = new Image(); img.onload = () => resolve(img); img.onerror = reject; img.src = src; });
}
// The picture, scaled up, with the weights of its patches laid over it in red.
function overlay(picture, weights, rows, cols) {
  const scale = Math.max(1, Math.floor(168 / Math.max(picture.width, picture.height)));
  const c = el("canvas"); c.width = picture.width * scale; c.height = picture.height * scale;
  const g = c.getContext("2d"); g.imageSmoothingEnabled = false;
  g.drawImage(picture, 0, 0, c.width, c.height);
  const max = Math.max(...weights) || 1, ph = c.height / rows, pw = c.width / cols;
  weights.forEach((w, p) => { g.fillStyle = `rgba(230, 40, 20, ${0.75 * w / max})`; g.fillRect((p % cols) * pw, Math.floor(p / cols) * ph, pw, ph); });
  return c;
}

// ------------------------------------------------------------------ page

const TEXT_VIEWS = ["head", "model", "matrix", "worked"];
const NEEDS = { head: "text_attention", model: "text_attention", matrix: "text_attention", worked: "text_attention", next: "next_token", fill: "fill_mask", translate: "translate", image: "image_attention" };

function fillSelect(select, values, selected) {
  select.replaceChildren(...values.map(([value, label]) => el("option", { value, text: label })));
  if (values.some(([v]) => String(v) === String(selected))) select.value = String(selected);
}

function setupControls() {
  const run = runById(state.run);
  for (const button of document.querySelectorAll("#tabs button")) {
    button.hidden = !can(run, NEEDS[button.dataset.view]);
    button.classList.toggle("active", button.dataset.view === state.view);
  }
  const answer = current.a;
  const stacks = answer && answer.stacks ? Object.keys(answer.stacks) : [];
  if (stacks.length && !stacks.includes(state.stack)) state.stack = stacks.includes("cross") ? "cross" : stacks[0];
  fillSelect($("stack"), stacks.map((s) => [s, s === "cross" ? "cross (encoder–decoder)" : `${s} self-attention`]), state.stack);
  const layers = run ? run.layers || 1 : 1, heads = run ? run.heads || 1 : 1;
  const stack = currentStack(answer);
  const nLayers = stack ? stack.maps.length : layers;
  if (state.layer >= nLayers) state.layer = nLayers - 1;
  fillSelect($("layer"), [...Array(nLayers).keys()].map((l) => [l, String(l)]), state.layer);
  fillSelect($("head"), [["all", "all / mean"], ...[...Array(heads).keys()].map((h) => [h, String(h)])], state.head);
  const queries = stack ? stack.queries : [];
  fillSelect($("query"), queries.map((t, i) => [i, `${i}: ${t}`]), state.query >= 0 ? state.query : queries.length - 1);
  const textView = TEXT_VIEWS.includes(state.view);
  $("stack").parentElement.hidden = !textView || stacks.length < 2;
  $("query").parentElement.hidden = state.view !== "worked";
  $("from").parentElement.hidden = !["head", "matrix"].includes(state.view);
  $("from").value = state.from; $("to").value = state.to;
}

let generation = 0; // renders still waiting for an answer when a newer one starts are dropped
async function render() {
  const mine = ++generation;
  writeHash();
  setupControls();
  $("hover-value").textContent = "";
  const run = runById(state.run), other = runById(state.compare);
  const targets = [[run, $("view"), $("title-a"), "a"]];
  $("panel-b").hidden = !(other && TEXT_VIEWS.includes(state.view) && state.view !== "worked" && can(other, "text_attention"));
  if (!$("panel-b").hidden) targets.push([other, $("view-b"), $("title-b"), "b"]);
  figure = null;
  const runInfo = (r) => `${r.kind} · ${r.parameters.toLocaleString()} parameters · step ${r.step}`;
  $("run-info").textContent = runInfo(run);
  for (const [r, shown, title, which] of targets) {
    // Drawn off the page, then swapped in whole, unless a newer render started meanwhile.
    const target = el("div");
    title.textContent = `${r.name} · ${r.family}`;
    try {
      const answer = current[which];
      let made = null;
      if (TEXT_VIEWS.includes(state.view) && !(answer && answer.stacks)) made = null;
      else if (state.view === "head") made = headView(answer, target);
      else if (state.view === "model") made = modelView(answer, target);
      else if (state.view === "matrix") made = matrixView(answer, target);
      else if (state.view === "worked") made = await workedView(r, target);
      else if (state.view === "next") made = await nextView(r, target);
      else if (state.view === "fill") made = await fillView(r, target);
      else if (state.view === "translate") made = await translateView(r, target);
      else if (state.view === "image") made = await imageView(r, target);
      if (which === "a" && mine === generation) figure = made;
      if (answer && answer.translation && TEXT_VIEWS.includes(state.view)) target.prepend(el("p", { text: "translation: " + answer.translation }));
    } catch (error) {
      target.append(el("p", { class: "note", text: error.message }));
      if (mine === generation) status(error.message);
    }
    if (mine !== generation) return;
    shown.replaceChildren(target);
  }
  $("export-png").disabled = $("export-svg").disabled = !figure;
  document.body.dataset.ready = String(Date.now());
}

async function show() {
  state.text = $("text").value;
  const run = runById(state.run), other = runById(state.compare);
  status("computing…", true);
  current = { a: null, b: null };
  try {
    if (can(run, "text_attention") && state.text.trim()) current.a = await api("/api/attention", { run: run.id, text: state.text });
    if (other && can(other, "text_attention") && state.text.trim()) current.b = await api("/api/attention", { run: other.id, text: state.text });
    status("");
  } catch (error) {
    status(error.message);
  }
  await render();
}

function download(name, href) {
  const a = el("a", { href, download: name });
  document.body.append(a); a.click(); a.remove();
}
function rasterize(svgText) {
  return new Promise((resolve) => {
    const img = new Image();
    img.onload = () => { const c = el("canvas"); c.width = img.width; c.height = img.height; c.getContext("2d").drawImage(img, 0, 0); resolve(c); };
    img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(svgText);
  });
}
function fileStem() { return `attnkit-${state.run}-${state.view}-L${state.layer}-H${state.head}`; }

async function main() {
  readHash();
  const listed = await runsList();
  RUNS = listed.runs;
  if (!runById(state.run)) state.run = RUNS[0].id;
  fillSelect($("run"), RUNS.map((r) => [r.id, `${r.name} (${r.family})`]), state.run);
  fillSelect($("compare"), [["", "—"], ...RUNS.map((r) => [r.id, r.name])], state.compare);
  if (EMBEDDED && !state.text) state.text = EMBEDDED.text;
  const run = runById(state.run);
  if (!state.text) state.text = can(run, "fill_mask") ? "the [MASK] of the Lord" : "ROMEO: But soft, what light";
  $("text").value = state.text;
  if (!can(run, NEEDS[state.view])) state.view = Object.keys(NEEDS).find((v) => can(run, NEEDS[v])) || "head";
  $("run-info").textContent = `${run.kind} · ${run.parameters.toLocaleString()} parameters · step ${run.step}`;

  $("run").addEventListener("change", () => { state.run = $("run").value; state.stack = ""; image = null; state.view = "head"; const r = runById(state.run); if (!can(r, NEEDS[state.view])) state.view = Object.keys(NEEDS).find((v) => can(r, NEEDS[v])); $("run-info").textContent = `${r.kind} · ${r.parameters.toLocaleString()} parameters · step ${r.step}`; show(); });
  $("compare").addEventListener("change", () => { state.compare = $("compare").value; show(); });
  $("go").addEventListener("click", () => { state.query = -1; state.step = 0; show(); });
  $("text").addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); state.query = -1; state.step = 0; show(); } });
  for (const button of document.querySelectorAll("#tabs button")) button.addEventListener("click", () => { state.view = button.dataset.view; render(); });
  $("stack").addEventListener("change", () => { state.stack = $("stack").value; state.query = -1; render(); });
  $("layer").addEventListener("change", () => { state.layer = Number($("layer").value); render(); });
  $("head").addEventListener("change", () => { state.head = $("head").value; render(); });
  $("query").addEventListener("change", () => { state.query = Number($("query").value); render(); });
  $("from").addEventListener("change", () => { state.from = Math.max(0, Number($("from").value)); render(); });
  $("to").addEventListener("change", () => { state.to = Math.max(1, Number($("to").value)); render(); });
  $("export-png").addEventListener("click", async () => {
    if (!figure) return;
    const canvas = figure.canvas ? figure.canvas() : await rasterize(figure.svg());
    download(fileStem() + ".png", canvas.toDataURL("image/png"));
  });
  $("export-svg").addEventListener("click", () => {
    if (!figure) return;
    const svg = figure.svg ? figure.svg() : `<svg xmlns="${SVGNS}"><image href="${figure.canvas().toDataURL("image/png")}"/></svg>`;
    download(fileStem() + ".svg", "data:image/svg+xml;charset=utf-8," + encodeURIComponent(svg));
  });
  // A shared URL pasted into this tab (only the hash changed): show what it names.
  window.addEventListener("hashchange", () => {
    readHash();
    if (!runById(state.run)) state.run = RUNS[0].id;
    $("run").value = state.run; $("compare").value = state.compare; $("text").value = state.text;
    image = null;
    show();
  });
  await show();
}

main().catch((error) => status(error.message));
