// Renderers: each reads the store (and a layout) and paints one canvas. None of them
// changes the store.
import { CLASS_COLORS, css, diverging, signedUnit } from "./colors.js";
import { edgeCurve } from "./layout.js";

/** How much heavier lines and larger labels are drawn: a projector's room reads from afar. */
export function ink(store) {
  return store.presenting ? 1.8 : 1;
}

export function fitCanvas(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(canvas.clientWidth * ratio));
  const h = Math.max(1, Math.round(canvas.clientHeight * ratio));
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  return { ctx, width: canvas.clientWidth, height: canvas.clientHeight };
}

// A new graph can arrive a frame before the state of the new shape: an entry the state does
// not have yet is simply not there.
function param(state, name, i, j) {
  return state?.params?.[name]?.[i]?.[j] ?? null;
}

function grad(state, name, i, j) {
  return state?.grads?.[name]?.[i]?.[j] ?? null;
}

function maxAbs(values) {
  let m = 0;
  for (const v of values) if (v !== null && Number.isFinite(v)) m = Math.max(m, Math.abs(v));
  return m || 1;
}

/** Scales shared by the graph and its legend, so that the legend tells the truth. */
export function graphScales(store) {
  const { state, graph } = store;
  if (!state || !graph) return { weight: 1, grad: 1, value: 1, nodeGrad: 1 };
  const weights = [], grads = [], values = [], nodeGrads = [];
  for (const e of graph.edges) {
    if (!e.param) continue;
    weights.push(param(state, e.param, e.i, e.j));
    grads.push(grad(state, e.param, e.i, e.j));
  }
  // the loss is left out: its size would wash out every unit's colour
  const lossIds = new Set(graph.nodes.filter((n) => n.kind === "loss" || n.role === "loss").map((n) => n.id));
  for (const [id, v] of Object.entries(state.nodes)) if (!lossIds.has(id)) { values.push(v.a); nodeGrads.push(v.grad_z); }
  return { weight: maxAbs(weights), grad: maxAbs(grads), value: maxAbs(values), nodeGrad: maxAbs(nodeGrads) };
}

const thumbCanvases = new Map();

function neuronThumbnail(grid, index) {
  const r = grid.neuronResolution;
  let canvas = thumbCanvases.get(index);
  if (!canvas || canvas.width !== r) {
    canvas = document.createElement("canvas");
    canvas.width = canvas.height = r;
    thumbCanvases.set(index, canvas);
  }
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(r, r);
  const lo = grid.ranges[2 * index], hi = grid.ranges[2 * index + 1];
  const bound = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
  const base = index * r * r;
  for (let k = 0; k < r * r; k++) {
    const value = lo + (grid.neurons[base + k] / 255) * (hi - lo);
    const rgb = diverging(value / bound);
    image.data.set([rgb[0], rgb[1], rgb[2], 255], 4 * k);
  }
  ctx.putImageData(image, 0, 0);
  return canvas;
}

// Input features are fixed functions of the point, so their maps are drawn here, not sent.
const FEATURE_FUNCTIONS = {
  "x1": (x1) => x1, "x2": (x1, x2) => x2, "x1^2": (x1) => x1 * x1, "x2^2": (x1, x2) => x2 * x2,
  "x1*x2": (x1, x2) => x1 * x2, "sin(x1)": (x1) => Math.sin(x1), "sin(x2)": (x1, x2) => Math.sin(x2),
};
const featureCanvases = new Map();

function featureThumbnail(name, extent) {
  const key = `${name}|${extent}`;
  if (featureCanvases.has(key)) return featureCanvases.get(key);
  const f = FEATURE_FUNCTIONS[name];
  if (!f) return null;
  const r = 32, canvas = document.createElement("canvas");
  canvas.width = canvas.height = r;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(r, r);
  const values = new Float64Array(r * r);
  let bound = 0;
  for (let row = 0; row < r; row++) {
    for (let col = 0; col < r; col++) {
      // cell centres, top row first (x2 high), as the server's grids
      const x1 = -extent + (2 * extent * (col + 0.5)) / r, x2 = extent - (2 * extent * (row + 0.5)) / r;
      const v = f(x1, x2);
      values[row * r + col] = v;
      bound = Math.max(bound, Math.abs(v));
    }
  }
  values.forEach((v, k) => image.data.set([...diverging(v / (bound || 1)), 255], 4 * k));
  ctx.putImageData(image, 0, 0);
  featureCanvases.set(key, canvas);
  return canvas;
}

function format(v) {
  if (v === null || v === undefined) return "";
  if (!Number.isFinite(v)) return "∞";
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e4) ? v.toExponential(1).replace("e+", "e") : v.toFixed(a < 1 ? 3 : 2);
}

/** Edges the value (forward) or the gradient (backward) is travelling along at this step, and
 * which way the dashes should march: +1 with the edge, −1 against it. */
export function flowOf(edge, state, view) {
  const cursor = state?.cursor, phase = state?.phase;
  if (!cursor) return 0;
  if (view === "gate") {
    if (phase === "forward" && edge.dst === cursor) return 1;
    if (phase === "backward" && edge.dst === cursor) return -1; // the gate hands its gradient to its inputs
    if (phase === "update" && edge.src === cursor) return 1;
    return 0;
  }
  if (phase === "forward" && edge.dst === cursor) return 1;
  if (phase === "backward" && edge.src === cursor) return -1; // gradients arrive from the units it feeds
  if (phase === "update" && edge.dst === cursor) return 1;
  return 0;
}

/** One edge's curve, dashed and marching when something flows along it. */
function strokeEdge(ctx, a, b, half, flow, now) {
  ctx.setLineDash(flow ? [7, 5] : []);
  ctx.lineDashOffset = flow ? -flow * ((now / 40) % 12) : 0;
  const [x0, y0, c1x, c1y, c2x, c2y, x1, y1] = edgeCurve(a, b, half);
  ctx.beginPath();
  ctx.moveTo(x0, y0);
  ctx.bezierCurveTo(c1x, c1y, c2x, c2y, x1, y1);
  ctx.stroke();
}

const GATE_SYMBOLS = { "+": "+", "*": "×", exp: "exp", log: "log", tanh: "tanh", sigmoid: "σ", relu: "relu", leaky_relu: "lrelu", sin: "sin" };

function drawGateGraph(ctx, store, layout, now) {
  const { graph, state } = store;
  const half = layout.size / 2;
  const gradientMode = store.mode === "gradient";
  const scales = graphScales(store);
  const cursor = state?.cursor;
  const k = ink(store);
  for (const edge of graph.edges) {
    const a = layout.positions.get(edge.src), b = layout.positions.get(edge.dst);
    if (!a || !b) continue;
    const flow = flowOf(edge, state, "gate");
    ctx.strokeStyle = flow ? (flow > 0 ? "rgba(31, 111, 178, 1)" : "rgba(200, 100, 10, 1)") : "rgba(150, 158, 170, 0.7)";
    ctx.lineWidth = (flow ? 3 : 1.1) * k;
    strokeEdge(ctx, a, b, half, flow, now);
  }
  ctx.setLineDash([]);
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  const font = Math.max(9, Math.min(13 * k, layout.size * 0.34 * k));
  const marks = unitMarks(state);
  for (const node of graph.nodes) {
    const p = layout.positions.get(node.id);
    const v = state?.nodes?.[node.id];
    const shown = gradientMode ? v?.grad_a : v?.a;
    const scale = gradientMode ? scales.nodeGrad : scales.value;
    const dead = node.kind === "gate" && marks.dead.has(node.of);
    const fill = dead ? css(DEAD_GREY, 0.55)
      : shown === null || shown === undefined ? "#f1f3f6" : css(diverging(signedUnit(shown, scale * 0.5)));
    ctx.beginPath();
    if (node.kind === "gate") ctx.arc(p.x, p.y, half, 0, 2 * Math.PI);
    else ctx.rect(p.x - half, p.y - half * 0.7, layout.size, layout.size * 0.7);
    ctx.fillStyle = fill;
    ctx.fill();
    const isCursor = node.id === cursor;
    const saturated = node.kind === "gate" && marks.saturated.has(node.of);
    ctx.lineWidth = (isCursor ? 4 : saturated ? 3 : 1.2) * k;
    ctx.strokeStyle = isCursor ? "#f2c230" : store.hover?.id === node.id || store.pinned === node.id ? "#1d2330"
      : saturated ? css(SATURATED) : store.presenting ? "#2a303c" : "#8a93a3";
    ctx.stroke();
    ctx.fillStyle = "#1d2330";
    ctx.font = `${node.kind === "gate" ? "600 " : ""}${font}px system-ui, sans-serif`;
    const text = node.kind === "gate" ? (node.role === "loss" ? "L" : GATE_SYMBOLS[node.op] || node.op) : node.label;
    ctx.fillText(text, p.x, p.y, node.kind === "gate" ? layout.size * 0.9 : layout.size * 1.6);
    if (node.role === "z" || node.role === "a") {
      ctx.font = `${Math.max(9, font - 2)}px system-ui, sans-serif`;
      ctx.fillStyle = "#5b6475";
      ctx.fillText(node.label, p.x, p.y - half - 7);
    }
    if (shown !== null && shown !== undefined) {
      ctx.font = `${Math.max(9, font - 1)}px system-ui, sans-serif`;
      ctx.fillStyle = "#4a5262";
      ctx.fillText(format(shown), p.x, p.y + half + 8);
    }
  }
  ctx.textBaseline = "alphabetic";
}

export function drawGraph(canvas, store, layout, now = 0) {
  const { ctx, width, height } = fitCanvas(canvas);
  ctx.clearRect(0, 0, width, height);
  const { graph, state, grid } = store;
  if (!graph || !layout) return;
  if (graph.view === "gate") {
    drawGateGraph(ctx, store, layout, now);
    return;
  }
  const scales = graphScales(store);
  const half = layout.size / 2;
  const gradientMode = store.mode === "gradient";
  const cursor = state?.cursor;
  const k = ink(store);

  // edges first, under the nodes
  for (const edge of graph.edges) {
    const a = layout.positions.get(edge.src), b = layout.positions.get(edge.dst);
    if (!a || !b) continue;
    let color = [170, 176, 186], width = 1.2;
    if (edge.param) {
      const value = gradientMode ? grad(state, edge.param, edge.i, edge.j) : param(state, edge.param, edge.i, edge.j);
      const scale = gradientMode ? scales.grad : scales.weight;
      if (value !== null) {
        color = diverging(signedUnit(value, scale * 0.5));
        width = 0.6 + 5 * Math.min(1, Math.abs(value) / scale);
      } else if (gradientMode) {
        color = [215, 219, 226];
      }
    }
    const flow = flowOf(edge, state, "neuron");
    ctx.strokeStyle = css(color, flow ? 1 : 0.85);
    ctx.lineWidth = (flow ? width + 2 : width) * k;
    strokeEdge(ctx, a, b, half, flow, now);
  }
  ctx.setLineDash([]);

  let neuronIndex = 0;
  const marks = unitMarks(state);
  ctx.textAlign = "center";
  for (const node of graph.nodes) {
    const p = layout.positions.get(node.id);
    const values = state?.nodes?.[node.id];
    const x = p.x - half, y = p.y - half;
    if (node.kind === "output" && grid && grid.channels === 1) {
      paintBoundary(grid);
      ctx.drawImage(boundaryCanvas, x, y, layout.size, layout.size);
    } else if (node.kind === "input" && featureThumbnail(node.label, grid?.extent || 6)) {
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(featureThumbnail(node.label, grid?.extent || 6), x, y, layout.size, layout.size);
    } else if (node.kind === "neuron" && grid && neuronIndex < grid.maps) {
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(neuronThumbnail(grid, neuronIndex), x, y, layout.size, layout.size);
    } else {
      ctx.fillStyle = "#f1f3f6";
      ctx.fillRect(x, y, layout.size, layout.size);
    }
    if (node.kind === "neuron") neuronIndex++;
    // the selected example's value (or gradient) as a band along the node's bottom
    const shown = gradientMode ? values?.grad_z : values?.a;
    if (shown !== null && shown !== undefined) {
      const scale = gradientMode ? scales.nodeGrad : scales.value;
      ctx.fillStyle = css(diverging(signedUnit(shown, scale * 0.5)));
      ctx.fillRect(x, y + layout.size * 0.78, layout.size, layout.size * 0.22);
    }
    drawUnitMarks(ctx, marks, node.id, x, y, layout.size);
    ctx.lineWidth = (node.id === cursor ? 4 : 1.2) * k;
    ctx.strokeStyle = node.id === cursor ? "#f2c230" : store.hover?.id === node.id || store.pinned === node.id ? "#1d2330"
      : store.presenting ? "#2a303c" : "#8a93a3";
    ctx.strokeRect(x, y, layout.size, layout.size);
    ctx.fillStyle = "#1d2330";
    // larger on a projector, but never taller than a third of a node: dense layers stay apart
    const font = Math.max(11, Math.min(14 * k, layout.size * (store.presenting ? 0.34 : 0.3)));
    ctx.font = `${store.presenting ? "600 " : ""}${font}px system-ui, sans-serif`;
    if (node.kind === "input" || node.kind === "output" || node.kind === "loss") {
      ctx.fillText(node.label, p.x, y - 6);
    }
    if (shown !== null && shown !== undefined) {
      ctx.fillStyle = store.presenting ? "#000" : "#4a5262";
      ctx.fillText(format(shown), p.x, y + layout.size + font);
    }
  }
}

export const DEAD_GREY = [118, 123, 133];
export const SATURATED = [123, 63, 178];

/** Which units the diagnostics single out: dead, saturated, and each group of exact copies. */
export function unitMarks(state) {
  const d = state?.diagnostics;
  const copies = new Map();
  (d?.symmetric || []).forEach((group, k) => group.forEach((id) => copies.set(id, k + 1)));
  return { dead: new Set(d?.dead || []), saturated: new Set(d?.saturated || []), copies };
}

/** Dead: washed grey and hatched (nothing gets through); saturated: a thick purple frame; copies: a tag. */
function drawUnitMarks(ctx, marks, id, x, y, size) {
  if (marks.dead.has(id)) {
    ctx.fillStyle = css(DEAD_GREY, 0.78);
    ctx.fillRect(x, y, size, size);
    ctx.save();
    ctx.beginPath();
    ctx.rect(x, y, size, size);
    ctx.clip();
    ctx.strokeStyle = "rgba(255, 255, 255, 0.35)";
    ctx.lineWidth = 2;
    for (let d = -size; d < size; d += 8) {
      ctx.beginPath(); ctx.moveTo(x + d, y + size); ctx.lineTo(x + d + size, y); ctx.stroke();
    }
    ctx.restore();
    ctx.fillStyle = "#fff";
    ctx.font = `600 ${Math.max(10, size * 0.26)}px system-ui, sans-serif`;
    ctx.fillText("dead", x + size / 2, y + size * 0.58);
  }
  if (marks.saturated.has(id)) {
    ctx.strokeStyle = css(SATURATED);
    ctx.lineWidth = 4;
    ctx.setLineDash([6, 3]);
    ctx.strokeRect(x - 4, y - 4, size + 8, size + 8);
    ctx.setLineDash([]);
  }
  const group = marks.copies.get(id);
  if (group) {
    const r = Math.max(7, size * 0.16);
    ctx.fillStyle = "#1d2330";
    ctx.beginPath(); ctx.arc(x + size, y, r, 0, 2 * Math.PI); ctx.fill();
    ctx.fillStyle = "#fff";
    ctx.font = `600 ${r * 1.2}px system-ui, sans-serif`;
    ctx.fillText(`=${group}`, x + size, y + r * 0.42);
  }
}

export function drawLegend(canvas, store) {
  const { ctx, width, height } = fitCanvas(canvas);
  ctx.clearRect(0, 0, width, height);
  if (!store.state) return;
  const scales = graphScales(store);
  const gradientMode = store.mode === "gradient";
  const items = gradientMode
    ? [["dL/dw (edges)", scales.grad], ["dL/dz (nodes)", scales.nodeGrad]]
    : [["weight w (edges)", scales.weight], ["activation a (nodes)", scales.value]];
  const w = Math.min(220 * ink(store), (width - 20) / 2);
  items.forEach(([label, scale], k) => {
    const x0 = 10 + k * (w + 20);
    for (let i = 0; i < w; i++) {
      ctx.fillStyle = css(diverging(((i / (w - 1)) * 2 - 1)));
      ctx.fillRect(x0 + i, 4, 1, 10);
    }
    ctx.fillStyle = store.presenting ? "#000" : "#5b6475";
    ctx.font = `${11 * ink(store)}px system-ui, sans-serif`;
    const y = 18 + 10 * ink(store);
    ctx.textAlign = "left"; ctx.fillText(`−${format(scale)}`, x0, y);
    ctx.textAlign = "center"; ctx.fillText(label, x0 + w / 2, y);
    ctx.textAlign = "right"; ctx.fillText(`+${format(scale)}`, x0 + w, y);
  });
}

const boundaryCanvas = document.createElement("canvas");

/** A boundary (a grid's, or a sweep thumbnail's) as pixels on `target`, one per grid cell. */
export function paintBoundary(grid, target = boundaryCanvas) {
  const r = grid.resolution;
  if (target.width !== r) target.width = target.height = r;
  const ctx = target.getContext("2d");
  const image = ctx.createImageData(r, r);
  const n = r * r, data = image.data, b = grid.boundary;
  for (let k = 0; k < n; k++) {
    let rr = 0, gg = 0, bb = 0;
    if (grid.channels === 1) {
      const rgb = diverging((b[k] / 255) * 2 - 1);
      rr = rgb[0]; gg = rgb[1]; bb = rgb[2];
    } else {
      for (let c = 0; c < grid.channels; c++) {
        const p = b[c * n + k] / 255, col = CLASS_COLORS[c % CLASS_COLORS.length];
        rr += p * col[0]; gg += p * col[1]; bb += p * col[2];
      }
    }
    // lighten so the points on top stay legible
    data[4 * k] = 255 - (255 - rr) * 0.7; data[4 * k + 1] = 255 - (255 - gg) * 0.7;
    data[4 * k + 2] = 255 - (255 - bb) * 0.7; data[4 * k + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
}

export function drawBoundary(canvas, store) {
  const { ctx, width, height } = fitCanvas(canvas);
  const { grid, dataset, state } = store;
  ctx.clearRect(0, 0, width, height);
  if (grid) {
    paintBoundary(grid);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(boundaryCanvas, 0, 0, width, height);
  }
  if (!dataset) return;
  const extent = grid?.extent || 6;
  const toX = (x1) => ((x1 + extent) / (2 * extent)) * width;
  const toY = (x2) => ((extent - x2) / (2 * extent)) * height;
  const radius = Math.max(3, width / 110) * (store.presenting ? 1.3 : 1);
  const drawPoint = ([x1, x2, label], test) => {
    // test points: a dark rim, as TensorFlow Playground marks them; training points: a white one
    ctx.beginPath();
    ctx.arc(toX(x1), toY(x2), radius, 0, 2 * Math.PI);
    ctx.fillStyle = css(CLASS_COLORS[label % CLASS_COLORS.length]);
    ctx.strokeStyle = test ? "#1d2330" : "#ffffff";
    ctx.lineWidth = test ? 1.4 : 1;
    ctx.fill();
    ctx.stroke();
  };
  for (const p of dataset.test) drawPoint(p, true);
  for (const p of dataset.train) drawPoint(p, false);
  const selected = state ? dataset.train[state.example] : null;
  if (selected) {
    ctx.beginPath();
    ctx.arc(toX(selected[0]), toY(selected[1]), radius * 2.2, 0, 2 * Math.PI);
    ctx.strokeStyle = "#f2c230";
    ctx.lineWidth = 3;
    ctx.stroke();
  }
}

export function drawChart(canvas, store) {
  const { ctx, width, height } = fitCanvas(canvas);
  ctx.clearRect(0, 0, width, height);
  const h = store.history;
  if (h.length < 2) return;
  const k = ink(store);
  const pad = { l: 34 * k, r: 8, t: 8 * k, b: 18 * k };
  const first = h[0].iteration, last = h[h.length - 1].iteration || 1;
  let top = 0;
  for (const p of h) top = Math.max(top, p.loss ?? 0, p.test ?? 0);
  top = top || 1;
  const X = (it) => pad.l + ((it - first) / Math.max(1, last - first)) * (width - pad.l - pad.r);
  const Y = (v) => pad.t + (1 - v / top) * (height - pad.t - pad.b);
  ctx.strokeStyle = "#dde1e8"; ctx.lineWidth = 1;
  ctx.beginPath(); ctx.moveTo(pad.l, pad.t); ctx.lineTo(pad.l, height - pad.b); ctx.lineTo(width - pad.r, height - pad.b); ctx.stroke();
  ctx.fillStyle = store.presenting ? "#000" : "#5b6475"; ctx.font = `${11 * k}px system-ui, sans-serif`;
  ctx.textAlign = "right"; ctx.fillText(format(top), pad.l - 4, pad.t + 8); ctx.fillText("0", pad.l - 4, height - pad.b);
  ctx.textAlign = "left"; ctx.fillText(`iteration ${last}`, pad.l + 4, height - 4);
  for (const [key, color, dash] of [["test", "#1d2330", [4, 3]], ["loss", "#1f6fb2", []]]) {
    ctx.strokeStyle = color; ctx.lineWidth = 2 * k; ctx.setLineDash(dash);
    ctx.beginPath();
    let started = false;
    for (const p of h) {
      const v = p[key];
      if (v === null || v === undefined) { started = false; continue; }
      if (started) ctx.lineTo(X(p.iteration), Y(v)); else ctx.moveTo(X(p.iteration), Y(v));
      started = true;
    }
    ctx.stroke();
  }
  ctx.setLineDash([]);
  ctx.textAlign = "right"; ctx.fillStyle = "#1f6fb2"; ctx.fillText("train", width - pad.r, pad.t + 8);
  ctx.fillStyle = "#1d2330"; ctx.fillText("test - -", width - pad.r, pad.t + 8 + 14 * k);
}
