// Renderers: each reads the store (and a layout) and paints one canvas. None of them
// changes the store.
import { fitCanvas, font, ink, planeMapping, roundRect } from "./canvas.js";
import { curvePoints, drawCurve } from "./curve.js";
import { CLASS_COLORS, css, DEAD_GREY, diverging, SATURATED, signedUnit } from "./colors.js";
import { sci, short } from "./format.js";
import { edgeCurve, PRIORITY } from "./layout.js";
import { colouring } from "./store.js";
import { targetLimit, task } from "./task.js";

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

// A grid's pictures are painted once per grid, not once per frame: while the cursor moves or
// the dashes march, the same grid is drawn again and again.
const thumbs = new Map(); // neuron index → {canvas, grid}

/** 256 packed RGBA colours: the diverging scale for the bytes of one map (lo…hi around 0). */
function divergingTable(lo, hi, lighten = 1) {
  const bound = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
  const table = new Uint32Array(256);
  for (let b = 0; b < 256; b++) {
    const [r, g, bl] = diverging((lo + (b / 255) * (hi - lo)) / bound);
    const mix = (c) => 255 - (255 - c) * lighten;
    table[b] = (255 << 24) | (mix(bl) << 16) | (mix(g) << 8) | mix(r); // little-endian RGBA
  }
  return table;
}

function neuronThumbnail(grid, index) {
  const r = grid.neuronResolution;
  let thumb = thumbs.get(index);
  if (thumb?.grid === grid) return thumb.canvas;
  if (!thumb || thumb.canvas.width !== r) {
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = r;
    thumb = { canvas };
    thumbs.set(index, thumb);
  }
  thumb.grid = grid;
  const ctx = thumb.canvas.getContext("2d");
  const image = ctx.createImageData(r, r);
  const table = divergingTable(grid.ranges[2 * index], grid.ranges[2 * index + 1]);
  const pixels = new Uint32Array(image.data.buffer), base = index * r * r;
  for (let k = 0; k < r * r; k++) pixels[k] = table[grid.neurons[base + k]];
  ctx.putImageData(image, 0, 0);
  return thumb.canvas;
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

/** Whether the value (forward) or the gradient (backward) is travelling along a neuron-view edge
 * at this step, and which way the dashes should march: +1 with the edge, −1 against it. */
export function flowOf(edge, state) {
  const cursor = state?.cursor, phase = state?.phase;
  if (!cursor) return 0;
  if (phase === "forward" && edge.dst === cursor) return 1;
  if (phase === "backward" && edge.src === cursor) return -1; // gradients arrive from the units it feeds
  if (phase === "update" && edge.dst === cursor) return 1;
  return 0;
}

/** Add one edge's curve to the current path. */
function traceEdge(ctx, a, b, half) {
  const [x0, y0, c1x, c1y, c2x, c2y, x1, y1] = edgeCurve(a, b, half);
  ctx.moveTo(x0, y0);
  ctx.bezierCurveTo(c1x, c1y, c2x, c2y, x1, y1);
}

/** One edge's curve, dashed and marching when something flows along it. */
function strokeEdge(ctx, a, b, half, flow, now) {
  ctx.setLineDash(flow ? [7, 5] : []);
  ctx.lineDashOffset = flow ? -flow * ((now / 40) % 12) : 0;
  ctx.beginPath();
  traceEdge(ctx, a, b, half);
  ctx.stroke();
}

/**
 * The neuron view, in layout coordinates (the caller has applied zoom and pan). `labels` are
 * the placed label boxes (layout.js): only those are written, so no two ever overlap.
 */
export function drawNeuronGraph(ctx, store, layout, labels, now = 0) {
  const { graph, state, grid } = store;
  const scales = graphScales(store);
  const half = layout.size / 2;
  const gradientMode = colouring(store) === "gradient";
  const cursor = state?.cursor;
  const k = ink(store);

  // edges first, under the nodes: colours and widths are quantised into a few dozen buckets so
  // a 1,500-edge network is a few dozen strokes, not 1,500; the flowing edges are drawn on top
  const buckets = new Map(), flowing = [];
  for (const edge of graph.edges) {
    const a = layout.positions.get(edge.src), b = layout.positions.get(edge.dst);
    if (!a || !b) continue;
    let t = null, width = 1.2;
    if (edge.param) {
      const value = gradientMode ? grad(state, edge.param, edge.i, edge.j) : param(state, edge.param, edge.i, edge.j);
      const scale = gradientMode ? scales.grad : scales.weight;
      if (value !== null) {
        t = Math.round(signedUnit(value, scale * 0.5) * 16) / 16;
        width = Math.round((0.6 + 5 * Math.min(1, Math.abs(value) / scale)) * 2) / 2;
      } else if (gradientMode) {
        t = "pending";
      }
    }
    const flow = flowOf(edge, state);
    if (flow) { flowing.push({ a, b, t, width, flow }); continue; }
    const key = `${t}|${width}`;
    if (!buckets.has(key)) buckets.set(key, { t, width, ends: [] });
    buckets.get(key).ends.push(a, b);
  }
  const colorOf = (t) => (t === null ? [170, 176, 186] : t === "pending" ? [215, 219, 226] : diverging(t));
  for (const { t, width, ends } of buckets.values()) {
    ctx.strokeStyle = css(colorOf(t), 0.85);
    ctx.lineWidth = width * k;
    ctx.beginPath();
    for (let e = 0; e < ends.length; e += 2) traceEdge(ctx, ends[e], ends[e + 1], half);
    ctx.stroke();
  }
  for (const { a, b, t, width, flow } of flowing) {
    ctx.strokeStyle = css(colorOf(t), 1);
    ctx.lineWidth = (width + 2) * k;
    strokeEdge(ctx, a, b, half, flow, now);
  }
  ctx.setLineDash([]);

  let neuronIndex = 0;
  const marks = unitMarks(state);
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
    const isCursor = node.id === cursor;
    ctx.lineWidth = (isCursor ? 4 : store.pinned === node.id ? 3 : 1.2) * k;
    ctx.strokeStyle = isCursor ? "#f2c230" : store.hover?.id === node.id || store.pinned === node.id ? "#1d2330"
      : store.presenting ? "#2a303c" : "#8a93a3";
    ctx.strokeRect(x, y, layout.size, layout.size);
  }
  drawAsked(ctx, store, (id) => layout.positions.get(id), half, k);
  drawLabels(ctx, store, labels, (id) => layout.positions.get(id));
}

/** What an open question is about: its node ringed, its weight's edge drawn over, in the
 * question's colour, so a room looking up from its phones finds it at once. */
export function drawAsked(ctx, store, positionOf, half, k) {
  const q = store.question;
  if (!q?.open || (!q.node && !q.edge)) return;
  ctx.save();
  ctx.strokeStyle = "#7b3fb5";
  if (q.edge) {
    const edge = store.graph?.edges.find((e) => e.id === q.edge);
    const a = edge && positionOf(edge.src), b = edge && positionOf(edge.dst);
    if (a && b) {
      ctx.lineWidth = 5 * k;
      ctx.beginPath();
      traceEdge(ctx, a, b, half);
      ctx.stroke();
    }
  }
  const p = q.node && positionOf(q.node);
  if (p) {
    ctx.lineWidth = 4 * k;
    ctx.setLineDash([8 * k, 5 * k]);
    ctx.strokeRect(p.x - half - 7 * k, p.y - half - 7 * k, 2 * half + 14 * k, 2 * half + 14 * k);
  }
  ctx.restore();
}

/** Names and values at their placed boxes; values on a light pill so edges under them stay apart. */
function drawLabels(ctx, store, labels, leaderTarget) {
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  for (const label of labels) {
    const { box } = label;
    const cx = box.x + box.w / 2, cy = box.y + box.h / 2 + 0.5;
    if (label.kind === "name") {
      ctx.font = font(label.size, store.presenting ? "700" : "600");
      ctx.fillStyle = store.presenting ? "#000" : "#1d2330";
      ctx.fillText(label.text, cx, cy);
      continue;
    }
    const text = valueText(store, label.owner);
    if (!text) continue;
    const special = label.priority >= PRIORITY.hover;
    if (box.leader) {
      // from the label in the band to its node
      const p = leaderTarget(label.owner);
      if (p) {
        ctx.strokeStyle = "#1d2330"; ctx.lineWidth = 1; ctx.setLineDash([3, 2]);
        ctx.beginPath(); ctx.moveTo(cx, box.y < p.y ? box.y + box.h : box.y); ctx.lineTo(p.x, p.y); ctx.stroke(); ctx.setLineDash([]);
      }
    }
    ctx.font = font(label.size, "600");
    const w = Math.min(box.w, ctx.measureText(text).width + 6);
    ctx.fillStyle = special ? "rgba(255, 243, 196, 0.95)" : "rgba(255, 255, 255, 0.85)";
    roundRect(ctx, cx - w / 2, box.y, w, box.h, 3);
    ctx.fill();
    ctx.fillStyle = store.presenting ? "#000" : "#2a303c";
    ctx.fillText(text, cx, cy, box.w);
  }
  ctx.textBaseline = "alphabetic";
}

/** What a node's value label says: its gradient dL/dz while the graph shows gradients, else its a. */
export function valueText(store, id) {
  const v = store.state?.nodes?.[id];
  return short(colouring(store) === "gradient" ? v?.grad_z : v?.a);
}



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
    ctx.font = font(Math.max(9, size * 0.26), "600");
    ctx.textAlign = "center";
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
    ctx.font = font(r * 1.2, "600");
    ctx.textAlign = "center";
    ctx.fillText(`=${group}`, x + size, y + r * 0.42);
  }
}

/** What the colours mean now, in words: the legend canvas shows the scales, this says what they are. */
export function legendWords(store) {
  const signs = "Blue is positive, orange negative, white about zero.";
  const pass = store.mode === "auto" ? " (the backward pass)" : "";
  if (store.graph?.view === "gate") {
    return colouring(store) === "gradient"
      ? `Colouring gradients${pass}: each gate and weight shows dL/d(its value) for this example. ${signs}`
      : `Colouring values: each gate shows the number it computed for this example; each weight box its w. ${signs}`;
  }
  return colouring(store) === "gradient"
    ? `Colouring gradients${pass}: each node shows dL/dz for this example, each edge dL/dw for the batch. ${signs}`
    : `Colouring values: each node shows its activation a for this example (the picture: its map over the plane), each edge its weight w. ${signs}`;
}

export function drawLegend(canvas, store) {
  const { ctx, width, height } = fitCanvas(canvas);
  ctx.clearRect(0, 0, width, height);
  if (!store.state) return;
  const scales = graphScales(store);
  const gradient = colouring(store) === "gradient";
  // the gate view colours values (or their gradients) alone: weights are boxes of their own there
  const items = store.graph?.view === "gate"
    ? [gradient ? ["dL/d(value)", scales.nodeGrad] : ["value", scales.value]]
    : gradient ? [["dL/dw (edges)", scales.grad], ["dL/dz (nodes)", scales.nodeGrad]]
      : [["weight w (edges)", scales.weight], ["activation a (nodes)", scales.value]];
  const k = ink(store);
  const w = Math.min(240 * k, (width - 30) / 2);
  const size = Math.round(11 * k);
  items.forEach(([label, scale], n) => {
    const x0 = 10 + n * (w + 20);
    for (let i = 0; i < w; i++) {
      ctx.fillStyle = css(diverging(((i / (w - 1)) * 2 - 1)));
      ctx.fillRect(x0 + i, 3, 1, 9 * k);
    }
    ctx.fillStyle = store.presenting ? "#000" : "#5b6475";
    ctx.font = font(size);
    ctx.textBaseline = "alphabetic";
    const y = Math.min(height - 3, 6 + 9 * k + size);
    // the ends' numbers take their room first; the name goes between them only if it fits
    const lo = `−${sci(scale).replace("−", "")}`, hi = `+${sci(scale)}`;
    ctx.textAlign = "left"; ctx.fillText(lo, x0, y);
    ctx.textAlign = "right"; ctx.fillText(hi, x0 + w, y);
    const room = w - ctx.measureText(lo).width - ctx.measureText(hi).width - 16;
    if (ctx.measureText(label).width <= room) { ctx.textAlign = "center"; ctx.fillText(label, x0 + w / 2, y); }
  });
}

const boundaryCanvas = document.createElement("canvas");

/** A boundary (a grid's, or a sweep thumbnail's) as pixels on `target`, one per grid cell. */
const painted = new WeakMap(); // canvas → the grid last painted on it

/** A boundary (a grid's, or a sweep thumbnail's) as pixels on `target`, one per grid cell, lightened
 * so the points on top stay legible. */
export function paintBoundary(grid, target = boundaryCanvas) {
  if (painted.get(target) === grid) return;
  painted.set(target, grid);
  const r = grid.resolution;
  if (target.width !== r) target.width = target.height = r;
  const ctx = target.getContext("2d");
  const image = ctx.createImageData(r, r);
  const n = r * r, data = image.data, b = grid.boundary;
  if (grid.channels === 1) {
    const table = divergingTable(-1, 1, 0.7), pixels = new Uint32Array(data.buffer);
    for (let k = 0; k < n; k++) pixels[k] = table[b[k]];
  } else {
    for (let k = 0; k < n; k++) {
      let rr = 0, gg = 0, bb = 0;
      for (let c = 0; c < grid.channels; c++) {
        const p = b[c * n + k] / 255, col = CLASS_COLORS[c % CLASS_COLORS.length];
        rr += p * col[0]; gg += p * col[1]; bb += p * col[2];
      }
      data[4 * k] = 255 - (255 - rr) * 0.7; data[4 * k + 1] = 255 - (255 - gg) * 0.7;
      data[4 * k + 2] = 255 - (255 - bb) * 0.7; data[4 * k + 3] = 255;
    }
  }
  ctx.putImageData(image, 0, 0);
}

/** The radius points are drawn with: the boundary's hit test uses the same. */
export function pointRadius(width, store) {
  return Math.max(3, width / 110) * (store.presenting ? 1.3 : 1);
}

// Each class has a shape as well as a colour, so no one needs to tell the colours apart.
const SHAPES = [
  (ctx, x, y, r) => ctx.arc(x, y, r, 0, 2 * Math.PI),
  (ctx, x, y, r) => ctx.rect(x - r * 0.9, y - r * 0.9, r * 1.8, r * 1.8),
  (ctx, x, y, r) => { ctx.moveTo(x, y - r * 1.15); ctx.lineTo(x + r * 1.05, y + r * 0.8); ctx.lineTo(x - r * 1.05, y + r * 0.8); ctx.closePath(); },
  (ctx, x, y, r) => { ctx.moveTo(x, y - r * 1.2); ctx.lineTo(x + r * 1.2, y); ctx.lineTo(x, y + r * 1.2); ctx.lineTo(x - r * 1.2, y); ctx.closePath(); },
  (ctx, x, y, r) => { for (let i = 0; i < 10; i++) { const a = (i * Math.PI) / 5 - Math.PI / 2, q = i % 2 ? r * 0.55 : r * 1.25; ctx.lineTo(x + q * Math.cos(a), y + q * Math.sin(a)); } ctx.closePath(); },
];

/** How a point is drawn: a class by its shape and colour; a regression target y as a disc
 * coloured on the surface's own diverging scale (`limit`: the size of a target), rimmed dark so
 * a y near 0 (white) still shows on a surface near 0. */
function pointStyle(label, limit) {
  if (limit) return { shape: SHAPES[0], fill: css(diverging(label / limit)), rim: "#3a4250" };
  return { shape: SHAPES[label % SHAPES.length], fill: css(CLASS_COLORS[label % CLASS_COLORS.length]), rim: "#ffffff" };
}

/** Points as the boundary draws them (a white rim), on a square `size` pixels a side showing the
 * plane out to ±`extent`: the sweep's thumbnails use it too. `limit`: a regression's target size. */
export function drawPoints(ctx, points, extent, size, radius, limit = 0) {
  const { toX, toY } = planeMapping(extent, size, size);
  ctx.lineWidth = 0.8;
  for (const [x1, x2, label] of points) {
    const style = pointStyle(label, limit);
    ctx.beginPath();
    style.shape(ctx, toX(x1), toY(x2), radius);
    ctx.fillStyle = style.fill;
    ctx.strokeStyle = style.rim;
    ctx.fill();
    ctx.stroke();
  }
}

export function drawBoundary(canvas, store) {
  const { ctx, width, height } = fitCanvas(canvas);
  const { grid, dataset, state } = store;
  ctx.clearRect(0, 0, width, height);
  if (store.emptyCustom) {
    // no data yet: neither the old points nor a boundary learned from them belong on the plot
    ctx.fillStyle = "#5b6475";
    ctx.font = font(13 * ink(store));
    ctx.textAlign = "center";
    ctx.fillText("No points: click to add the first", width / 2, height / 2);
    return;
  }
  const kind = task(store);
  if (kind === "curve") {
    const radius = pointRadius(width, store);
    const m = drawCurve(ctx, width, height, store, radius);
    const selected = state && dataset ? dataset.train[state.example] : null;
    if (selected) ringSelected(ctx, store, m.toX(selected[0]), m.toY(selected[1]), radius, () => curvePoints(ctx, m, [selected], radius));
    return;
  }
  if (grid) {
    paintBoundary(grid);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(boundaryCanvas, 0, 0, width, height);
  }
  if (!dataset) return;
  const { toX, toY } = planeMapping(grid?.extent || 6, width, height);
  const radius = pointRadius(width, store);
  const limit = kind === "surface" ? targetLimit(store) : 0;
  const drawPoint = ([x1, x2, label], test) => {
    // test points: a dark rim, as TensorFlow Playground marks them; training points: a white one
    // (a regression's points are all rimmed dark; a test point's rim is the heavier)
    const style = pointStyle(label, limit);
    ctx.beginPath();
    style.shape(ctx, toX(x1), toY(x2), radius);
    ctx.fillStyle = style.fill;
    ctx.strokeStyle = test ? "#1d2330" : style.rim;
    ctx.lineWidth = test ? (limit ? 2.2 : 1.4) : 1;
    ctx.fill();
    ctx.stroke();
  };
  for (const p of dataset.test) drawPoint(p, true);
  for (const p of dataset.train) drawPoint(p, false);
  const selected = state ? dataset.train[state.example] : null;
  if (selected) ringSelected(ctx, store, toX(selected[0]), toY(selected[1]), radius, () => drawPoint(selected, false));
}

/** The example the network follows: a dark and a yellow ring, legible on any background, then
 * the point itself again on top. */
function ringSelected(ctx, store, x, y, radius, redraw) {
  const r = radius * 2.3;
  ctx.beginPath(); ctx.arc(x, y, r + 1.5, 0, 2 * Math.PI);
  ctx.strokeStyle = "#1d2330"; ctx.lineWidth = 5 * ink(store); ctx.stroke();
  ctx.beginPath(); ctx.arc(x, y, r + 1.5, 0, 2 * Math.PI);
  ctx.strokeStyle = "#f2c230"; ctx.lineWidth = 3 * ink(store); ctx.stroke();
  redraw();
}
