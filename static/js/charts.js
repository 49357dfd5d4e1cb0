// The run's two charts: the loss over iterations (train and test), and each layer's gradient norm
// on a log scale, where a vanishing gradient shows as lines fanning apart by powers of ten.
// Every label is measured as a box before it is drawn, so none collides with another or leaves
// the canvas from a 120 px strip up to a projector; both return those boxes so a test can check.
// They only read the store.
import { css, NEG, POS } from "./colors.js";
import { fitCanvas, font, ink, overlaps, textBox } from "./canvas.js";
import { count, decade, tick } from "./format.js";

const INK = "#1d2330";
const TRAIN = css(POS);
const TEST = "#3a4252";
const LOSS_HINTS = ["press play or step to see the loss", "press play or step", "no loss yet"];
const GRAD_HINTS = ["press play or step to see each layer's gradient", "press play or step", "no gradient yet"];
const GRAD_TITLES = ["gradient norm per layer, log scale", "gradient norm, log scale", "gradient, log"];

/** Draw the training and test loss; returns every text box drawn and the plot's box. */
export function drawLossChart(canvas, store) {
  const c = begin(canvas, store);
  const h = store.history;
  let top = 0, points = 0, tests = 0;
  for (let i = 0; i < h.length; i++) {
    const p = h[i];
    if (Number.isFinite(p.loss)) { points++; if (p.loss > top) top = p.loss; }
    if (Number.isFinite(p.test)) { tests++; if (p.test > top) top = p.test; }
  }
  const first = h.length ? h[0].iteration : 0, last = h.length ? h[h.length - 1].iteration : 0;
  const ready = points >= 2 && last > first;
  title(c, ["loss"], ready ? legend(c, tests > 0) : c.width - c.edge);
  if (!ready) return empty(c, "0.0", LOSS_HINTS);

  // a little headroom rather than rounding up to the next tick: a short strip needs every pixel
  const yMax = (top || 1) * 1.04;
  const rows = Math.max(1, Math.floor((c.bottom - c.top) / (c.digit * 2.6)));
  const step = niceStep(yMax / rows);
  const ticks = Math.floor(yMax / step + 1e-9);
  c.ctx.font = c.text;
  let gutter = 0;
  for (let i = 0; i <= ticks; i++) gutter = Math.max(gutter, c.ctx.measureText(tick(i * step, step)).width);
  const plot = plotBox(c, gutter, c.edge + 2 * c.k);
  const Y = (v) => plot.y + (1 - v / yMax) * plot.h;
  for (let i = 0; i <= ticks; i++) yLabel(c, plot, tick(i * step, step), Y(i * step), i > 0);
  const X = xAxis(c, plot, first, last);
  baseline(c, plot, plot.y + plot.h);

  const { ctx, k } = c;
  clipTo(c, plot);
  if (tests) {
    ctx.setLineDash([5 * k, 3.5 * k]);
    stroke(ctx, h, "test", X, Y, TEST, 1.6 * k);
    ctx.setLineDash([]);
  }
  const end = stroke(ctx, h, "loss", X, Y, TRAIN, 2.2 * k);
  ctx.restore();
  if (end) dot(ctx, X(end.iteration), Y(end.loss), 2.6 * k, TRAIN);
  return { labels: c.labels, plot };
}

/** Draw each layer's gradient norm on a log scale, a layer with no gradient at all along a floor
 * row labelled 0; every line is labelled L1…Ln at its end. Returns text boxes and the plot's box. */
export function drawGradChart(canvas, store) {
  const c = begin(canvas, store);
  const g = store.gradHistory;
  let layers = 0;
  for (let i = g.length - 1; i >= 0; i--) if (g[i].norms) { layers = g[i].norms.length; break; }
  let lo = Infinity, hi = -Infinity, zero = false, points = 0;
  for (let i = 0; i < g.length; i++) {
    const norms = g[i].norms;
    if (!norms) continue;
    points++;
    for (let l = 0; l < norms.length; l++) {
      const v = norms[l];
      if (v === 0) zero = true;
      else if (v > 0 && Number.isFinite(v)) { const e = Math.log10(v); if (e < lo) lo = e; if (e > hi) hi = e; }
    }
  }
  const first = g.length ? g[0].iteration : 0, last = g.length ? g[g.length - 1].iteration : 0;
  const ready = points >= 2 && last > first && layers > 0;
  title(c, GRAD_TITLES, c.width - c.edge);
  if (!ready) return empty(c, "1e−4", GRAD_HINTS);

  if (!Number.isFinite(lo)) { lo = -2; hi = 0; }
  lo = Math.floor(lo);
  hi = Math.max(Math.ceil(hi), lo + 1);
  const tags = tagLayout(c, layerNames(layers), layers);
  // the floor row sits a label's height below the lowest decade so "0" and that decade never touch
  const floorGap = zero ? c.digit * 1.8 + 3 : 0;
  const logH = c.bottom - c.top - floorGap;
  // label every step-th decade, on multiples of the step (1e−3, 1e−6 rather than 1e−1, 1e−4)
  let step = 1;
  while ((logH * step) / (hi - lo) < c.digit * 2.4 && step < hi - lo) step++;
  let labelled = 0;
  for (let e = lo; e <= hi; e++) if (e % step === 0) labelled++;
  const labels = (e) => (labelled >= 2 ? e % step === 0 : e === lo || e === hi);
  c.ctx.font = c.text;
  let gutter = zero ? c.ctx.measureText("0").width : 0;
  for (let e = lo; e <= hi; e++) if (labels(e)) gutter = Math.max(gutter, c.ctx.measureText(decade(e)).width);
  const plot = plotBox(c, gutter, tags.width);
  const floorY = plot.y + plot.h;
  const Y = (v) => (v > 0 ? plot.y + ((hi - Math.log10(v)) / (hi - lo)) * (plot.h - floorGap) : floorY);
  // the floor's "0" first: where space is short, it is the label a dead layer needs
  if (zero) yLabel(c, plot, "0", floorY, false);
  // every decade gets a faint line even when only every step-th is labelled: that is the log scale
  for (let e = lo; e <= hi; e++) {
    const y = plot.y + ((hi - e) / (hi - lo)) * (plot.h - floorGap);
    if (labels(e)) yLabel(c, plot, decade(e), y, zero || e > lo);
    else grid(c, plot, y, 0.5);
  }
  const X = xAxis(c, plot, first, last);
  baseline(c, plot, floorY);

  const { ctx, k } = c;
  clipTo(c, plot);
  const ends = tags.ends;
  // the last layer first, so the first layer, the one a vanishing gradient starves, lies on top
  for (let l = layers - 1; l >= 0; l--) {
    const color = css(layerColor(l, layers));
    ctx.strokeStyle = color;
    ctx.lineWidth = 1.9 * k;
    ctx.lineJoin = "round";
    ctx.beginPath();
    let started = false, endX = null, endY = null;
    for (let i = 0; i < g.length; i++) {
      const v = g[i].norms?.[l];
      if (v === null || v === undefined || !(v >= 0) || !Number.isFinite(v)) { started = false; continue; }
      endX = X(g[i].iteration); endY = Y(v);
      if (started) ctx.lineTo(endX, endY); else ctx.moveTo(endX, endY);
      started = true;
    }
    ctx.stroke();
    ends[l].x = endX;
    ends[l].want = endY ?? floorY;
  }
  ctx.restore();
  for (let l = 0; l < layers; l++) if (ends[l].x !== null) dot(ctx, ends[l].x, ends[l].want, 2.4 * k, css(layerColor(l, layers)));
  placeTags(c, plot, tags);
  return { labels: c.labels, plot };
}

// --- the frame every chart shares --------------------------------------------------------------

/** Size the canvas and work out the rows: title on top, iteration ticks at the bottom. */
function begin(canvas, store) {
  const { ctx, width, height } = fitCanvas(canvas);
  ctx.clearRect(0, 0, width, height);
  const k = ink(store);
  // the ink sets the size, but a short strip caps it so title, plot and tick row all still fit
  const size = Math.max(9, Math.min(11 * k, height * 0.12));
  const text = font(size);
  ctx.font = text;
  const digit = ctx.measureText("0").actualBoundingBoxAscent;
  const tall = ctx.measureText("Ag");
  const edge = Math.round(2 + 2 * k);
  const titleBase = edge + tall.actualBoundingBoxAscent + 1;
  const titleBottom = titleBase + tall.actualBoundingBoxDescent + 1;
  // ticks and "iteration" have no descenders: the row's baseline can sit right at the edge
  const xBase = height - edge - 1;
  return {
    ctx, width, height, k, size, text, digit, edge, titleBase, titleBottom, xBase,
    bold: font(size, "600"),
    muted: store.presenting ? "#2a303c" : "#5b6475",
    grid: store.presenting ? "#dfe2e8" : "#eceef2",
    axis: store.presenting ? "#9aa1ad" : "#c3c8d1",
    // the top tick label is centred on the plot's top edge and must clear the title row
    top: titleBottom + digit / 2 + 2 + 2 * k,
    // the bottom tick label is centred on the plot's bottom edge and must clear the tick row
    bottom: xBase - digit - 1 - digit / 2 - 2 - k,
    labels: [],
  };
}

function plotBox(c, gutter, right) {
  const x = c.edge + gutter + 4 * c.k + 2;
  return { x, y: c.top, w: Math.max(1, c.width - right - x), h: Math.max(1, c.bottom - c.top) };
}

/** Measure `text` at (x, baseline) as the box it will occupy; nothing is drawn yet. */
function measure(c, text, x, base, align) {
  c.ctx.textAlign = align;
  const b = textBox(c.ctx, text, x, base);
  return { text, x: b.x, y: b.y, w: b.w, h: b.h, ax: x, ay: base, align };
}

function inside(c, b) {
  return b.x >= 0 && b.y >= 0 && b.x + b.w <= c.width && b.y + b.h <= c.height;
}

/** Inside the canvas, and at least `gap` clear of every label drawn so far, side to side. */
function free(c, b, gap = 0) {
  if (!inside(c, b)) return false;
  const wide = { x: b.x - gap, y: b.y, w: b.w + 2 * gap, h: b.h };
  for (let i = 0; i < c.labels.length; i++) if (overlaps(wide, c.labels[i])) return false;
  return true;
}

/** Draw a measured label and remember its box. */
function put(c, m, color, halo = 0) {
  const { ctx } = c;
  ctx.textAlign = m.align;
  ctx.textBaseline = "alphabetic";
  if (halo) {
    ctx.strokeStyle = "rgba(255, 255, 255, 0.92)";
    ctx.lineWidth = halo;
    ctx.lineJoin = "round";
    ctx.strokeText(m.text, m.ax, m.ay);
  }
  ctx.fillStyle = color;
  ctx.fillText(m.text, m.ax, m.ay);
  c.labels.push({ text: m.text, x: m.x, y: m.y, w: m.w, h: m.h });
}

/** Draw a label only where it is free: on a canvas too small for everything, a missing tick
 * reads better than two printed over each other. */
function place(c, m, color) {
  if (!free(c, m)) return false;
  put(c, m, color);
  return true;
}

/** The first title that fits left of `right` (where a legend may begin). */
function title(c, candidates, right) {
  c.ctx.font = c.bold;
  for (let i = 0; i < candidates.length; i++) {
    const m = measure(c, candidates[i], c.edge, c.titleBase, "left");
    if (m.x + m.w <= right - c.size || i === candidates.length - 1) { place(c, m, INK); return; }
  }
}

/** "— train  - - test" right-aligned in the title row; returns where it begins. */
function legend(c, withTest) {
  const { ctx, k, size } = c;
  ctx.font = c.text;
  const swatch = size * 1.8, mid = c.titleBase - c.digit / 2;
  let right = c.width - c.edge;
  const items = withTest ? [["test", TEST, true], ["train", TRAIN, false]] : [["train", TRAIN, false]];
  for (const [text, color, dashed] of items) {
    const m = measure(c, text, right, c.titleBase, "right");
    if (!place(c, m, INK)) break;
    const x1 = m.x - size * 0.35, x0 = x1 - swatch;
    ctx.strokeStyle = color;
    ctx.lineWidth = dashed ? 1.6 * k : 2.2 * k;
    ctx.setLineDash(dashed ? [5 * k, 3.5 * k] : []);
    ctx.beginPath(); ctx.moveTo(x0, mid); ctx.lineTo(x1, mid); ctx.stroke();
    ctx.setLineDash([]);
    right = x0 - size;
  }
  return right + size;
}

/** A y tick label right of the gutter, centred on its grid line. */
function yLabel(c, plot, text, y, withGrid) {
  if (withGrid) grid(c, plot, y, 1);
  c.ctx.font = c.text;
  place(c, measure(c, text, plot.x - 4 * c.k, y + c.digit / 2, "right"), c.muted);
}

function grid(c, plot, y, alpha) {
  const { ctx } = c;
  ctx.globalAlpha = alpha;
  ctx.strokeStyle = c.grid;
  ctx.lineWidth = 1;
  ctx.beginPath(); ctx.moveTo(plot.x, y); ctx.lineTo(plot.x + plot.w, y); ctx.stroke();
  ctx.globalAlpha = 1;
}

function baseline(c, plot, y) {
  const { ctx } = c;
  ctx.strokeStyle = c.axis;
  ctx.lineWidth = c.k;
  ctx.beginPath(); ctx.moveTo(plot.x, y); ctx.lineTo(plot.x + plot.w, y); ctx.stroke();
}

/** "iteration" at the plot's right end, then the densest nice ticks whose labels keep apart;
 * draws their grid lines and returns the iteration → x map. */
function xAxis(c, plot, first, last) {
  const { ctx } = c;
  ctx.font = c.text;
  place(c, measure(c, "iteration", plot.x + plot.w, c.xBase, "right"), c.muted);
  const span = last - first;
  const X = (it) => plot.x + ((it - first) / span) * plot.w;
  const gap = c.size * 0.9;
  let step = niceStep(Math.max(1, (span * c.size * 2.5) / plot.w));
  let kept = [];
  for (let tries = 0; tries < 40; tries++, step = niceStep(step * 1.5)) {
    kept = [];
    let crowded = false;
    for (let i = Math.ceil(first / step - 1e-9); i * step <= last + 1e-9; i++) {
      const m = measure(c, count(i * step), X(i * step), c.xBase, "center");
      // a tick under the y labels or "iteration" is dropped alone; its neighbours still stand
      if (!free(c, m, gap)) continue;
      const prev = kept[kept.length - 1];
      if (prev && prev.x + prev.w + gap > m.x) { crowded = true; break; }
      kept.push(m);
    }
    if (!crowded) break;
  }
  ctx.strokeStyle = c.grid;
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (let i = Math.ceil(first / step - 1e-9); i * step <= last + 1e-9; i++) {
    const x = Math.round(X(i * step)) + 0.5;
    ctx.moveTo(x, plot.y); ctx.lineTo(x, plot.y + plot.h);
  }
  ctx.stroke();
  for (const m of kept) put(c, m, c.muted);
  return X;
}

/** Title, an empty frame and a hint where the lines will be: never a blank strip. */
function empty(c, gutterLike, hints) {
  c.ctx.font = c.text;
  const plot = plotBox(c, c.ctx.measureText(gutterLike).width, c.edge + 2 * c.k);
  place(c, measure(c, "iteration", plot.x + plot.w, c.xBase, "right"), c.muted);
  const { ctx } = c;
  ctx.strokeStyle = c.axis;
  ctx.lineWidth = c.k;
  ctx.beginPath(); ctx.moveTo(plot.x, plot.y); ctx.lineTo(plot.x, plot.y + plot.h); ctx.lineTo(plot.x + plot.w, plot.y + plot.h); ctx.stroke();
  for (const hint of hints) {
    const m = measure(c, hint, plot.x + plot.w / 2, plot.y + plot.h / 2 + c.digit / 2, "center");
    if (m.x >= plot.x && m.x + m.w <= plot.x + plot.w && place(c, m, c.muted)) break;
  }
  return { labels: c.labels, plot };
}

// --- lines ---------------------------------------------------------------------------------------

function clipTo(c, plot) {
  const { ctx, k } = c;
  ctx.save();
  // a line along the floor or the top is half outside the plot: keep its full width
  ctx.beginPath();
  ctx.rect(plot.x, plot.y - 2 * k, plot.w + 2 * k, plot.h + 4 * k);
  ctx.clip();
}

/** One series of the history as a line, broken where it is missing; returns its last point. */
function stroke(ctx, h, key, X, Y, color, width) {
  ctx.strokeStyle = color;
  ctx.lineWidth = width;
  ctx.lineJoin = "round";
  ctx.beginPath();
  let started = false, end = null;
  for (let i = 0; i < h.length; i++) {
    const v = h[i][key];
    if (!Number.isFinite(v)) { started = false; continue; }
    const x = X(h[i].iteration), y = Y(v);
    if (started) ctx.lineTo(x, y); else ctx.moveTo(x, y);
    started = true;
    end = h[i];
  }
  ctx.stroke();
  return end;
}

function dot(ctx, x, y, r, color) {
  ctx.fillStyle = color;
  ctx.beginPath(); ctx.arc(x, y, r, 0, 2 * Math.PI); ctx.fill();
}

// --- layer labels --------------------------------------------------------------------------------

function layerColor(l, layers) {
  const t = layers > 1 ? l / (layers - 1) : 1;
  return [NEG[0] + (POS[0] - NEG[0]) * t, NEG[1] + (POS[1] - NEG[1]) * t, NEG[2] + (POS[2] - NEG[2]) * t];
}

/** The same hue darkened: orange text on white is too faint to read from the back of a room. */
function textColor(l, layers) {
  const [r, g, b] = layerColor(l, layers);
  return css([r * 0.72, g * 0.72, b * 0.72]);
}

// the names outlive a frame: the chart redraws on every new point and they never change
const namesCache = [];
function layerNames(n) {
  for (let l = namesCache.length; l < n; l++) namesCache.push(`L${l + 1}`);
  return namesCache;
}

/** How the L1…Ln labels will fit in the right gutter: the largest font that stacks them all in
 * one column between the title row and the bottom edge, else more columns. */
function tagLayout(c, names, layers) {
  const { ctx, k } = c;
  const lo = c.titleBottom + 2, hi = c.height - c.edge;
  const smallest = Math.min(c.size, Math.max(9, c.size * 0.7));
  let size = c.size, cap = 0, spacing = 0, columns = 1;
  // a second column at a readable size beats one column of specks
  for (;; columns++) {
    let fits = false;
    for (size = c.size; ; size -= 0.5) {
      ctx.font = font(size, "600");
      cap = ctx.measureText("L").actualBoundingBoxAscent;
      spacing = cap + 2 + Math.max(2, cap * 0.35);
      fits = columns * Math.max(1, Math.floor((hi - lo - cap - 2) / spacing) + 1) >= layers;
      if (fits || size <= smallest) break;
    }
    if (fits) break;
  }
  let widest = 0;
  for (let l = 0; l < layers; l++) widest = Math.max(widest, ctx.measureText(names[l]).width);
  const lead = 7 * k, between = 5 * k;
  const ends = [];
  for (let l = 0; l < layers; l++) ends.push({ l, x: null, want: 0, at: 0, column: 0 });
  return {
    font: font(size, "600"), cap, spacing, columns, widest, lead, between, ends, names,
    // centres may range so that the label's box, half a cap above and below, stays in the band
    lo: lo + cap / 2 + 1, hi: hi - cap / 2 - 1,
    width: lead + columns * widest + (columns - 1) * between + c.edge + 2,
  };
}

/** Spread labels (sorted by where they want to be) at least `spacing` apart within [lo, hi]:
 * labels that would collide merge into a block centred on their wishes, clamped to the band. */
function spread(items, spacing, lo, hi) {
  const blocks = [];
  for (let i = 0; i < items.length; i++) {
    blocks.push({ first: i, n: 1, sum: items[i].want, top: 0 });
    for (;;) {
      const b = blocks[blocks.length - 1];
      b.top = Math.min(Math.max(b.sum / b.n - ((b.n - 1) * spacing) / 2, lo), hi - (b.n - 1) * spacing);
      const a = blocks[blocks.length - 2];
      if (!a || a.top + a.n * spacing <= b.top + 1e-6) break;
      a.n += b.n; a.sum += b.sum;
      blocks.pop();
    }
  }
  for (const b of blocks) for (let j = 0; j < b.n; j++) items[b.first + j].at = b.top + j * spacing;
}

function placeTags(c, plot, tags) {
  const { ctx, k } = c;
  const order = tags.ends.slice().sort((a, b) => a.want - b.want);
  const right = plot.x + plot.w;
  for (let col = 0; col < tags.columns; col++) {
    const column = order.filter((_, i) => i % tags.columns === col);
    spread(column, tags.spacing, tags.lo, tags.hi);
    for (const e of column) e.column = col;
  }
  ctx.font = tags.font;
  const layers = tags.ends.length;
  // leaders first, so a label's halo covers any leader from a farther column passing behind it
  for (const e of order) {
    const x = right + tags.lead + e.column * (tags.widest + tags.between);
    if (e.x === null || Math.abs(e.at - e.want) < 1.5 && e.column === 0) continue;
    ctx.strokeStyle = css(layerColor(e.l, layers), 0.7);
    ctx.lineWidth = k;
    ctx.beginPath(); ctx.moveTo(right + 3 * k, e.want); ctx.lineTo(x - 2 * k, e.at); ctx.stroke();
  }
  for (const e of tags.ends) {
    const x = right + tags.lead + e.column * (tags.widest + tags.between);
    put(c, measure(c, tags.names[e.l], x, e.at + tags.cap / 2, "left"), textColor(e.l, layers), 3 * k);
  }
}

// --- nice numbers --------------------------------------------------------------------------------

/** The smallest step of the 1, 2, 5 × 10^k series that is at least `x`. */
function niceStep(x) {
  const p = 10 ** Math.floor(Math.log10(x));
  if (p >= x * (1 - 1e-9)) return p;
  if (2 * p >= x * (1 - 1e-9)) return 2 * p;
  if (5 * p >= x * (1 - 1e-9)) return 5 * p;
  return 10 * p;
}
