// Why a run is stuck, on screen: the server's findings as sentences, and each layer's gradient
// norm over the iterations on a log scale (a vanishing gradient shows as lines fanning apart by
// powers of ten). Reads the store; writes only into its own elements.
import { css, NEG, POS } from "./colors.js";
import { el } from "./dom.js";
import { fitCanvas, ink } from "./render.js";

const LABELS = { diverged: "diverged", dead: "dead units", saturated: "saturated", symmetric: "copies",
  vanishing: "vanishing gradient", exploding: "exploding gradient", plateau: "plateau" };

/** One line per condition present; a short all-clear when there is none. */
export function renderDiagnosis(box, diagnostics, accuracy) {
  box.replaceChildren();
  if (!diagnostics) return;
  if (!diagnostics.findings.length) {
    const healthy = "every unit fires somewhere, none is saturated, and the gradient reaches the first layer";
    const falling = diagnostics.gain === null ? "it is too early to tell whether the loss has stopped falling"
      : `the loss fell ${(diagnostics.gain * 100).toPrecision(2)}% over the last 200 iterations`;
    box.append(el("p", "finding clear", accuracy !== null && accuracy < 0.9
      ? `Not stuck yet: ${healthy}; ${falling}.` : `Nothing looks stuck: ${healthy}.`));
    return;
  }
  for (const f of diagnostics.findings) {
    const line = el("p", `finding ${f.kind}`);
    line.append(el("b", "tag", LABELS[f.kind] || f.kind), " ", f.text);
    box.append(line);
  }
}

function layerColor(l, layers) {
  const t = layers > 1 ? l / (layers - 1) : 1;
  return [NEG[0] + (POS[0] - NEG[0]) * t, NEG[1] + (POS[1] - NEG[1]) * t, NEG[2] + (POS[2] - NEG[2]) * t];
}

/** Each layer's ‖dL/dθ‖ over iterations, log scale; a layer with no gradient at all runs along the floor. */
export function drawGradChart(canvas, store) {
  const { ctx, width, height } = fitCanvas(canvas);
  ctx.clearRect(0, 0, width, height);
  const h = store.gradHistory;
  if (!h.length || !h[h.length - 1].norms) return;
  const layers = h[h.length - 1].norms.length;
  let lo = Infinity, hi = -Infinity;
  for (const p of h) {
    for (const v of p.norms || []) {
      if (v !== null && v > 0) { lo = Math.min(lo, Math.log10(v)); hi = Math.max(hi, Math.log10(v)); }
    }
  }
  if (!Number.isFinite(lo)) { lo = -1; hi = 0; }
  lo = Math.floor(lo);
  hi = Math.max(Math.ceil(hi), lo + 1);
  const floor = lo - Math.max(0.5, (hi - lo) * 0.15); // where "no gradient at all" is drawn
  const k = ink(store);
  const pad = { l: 40 * k, r: 30 * k, t: 16 * k, b: 16 };
  const first = h[0].iteration, last = h[h.length - 1].iteration;
  const X = (it) => pad.l + ((it - first) / Math.max(1, last - first)) * (width - pad.l - pad.r);
  const Y = (logv) => pad.t + (1 - (logv - floor) / (hi - floor)) * (height - pad.t - pad.b);
  ctx.font = `${11 * k}px system-ui, sans-serif`;
  ctx.fillStyle = store.presenting ? "#000" : "#5b6475";
  ctx.textAlign = "left";
  ctx.fillText("gradient norm per layer (log scale)", pad.l, 11 * k);
  ctx.textAlign = "right";
  ctx.strokeStyle = "#eef0f4";
  ctx.lineWidth = 1;
  const step = Math.max(1, Math.ceil((hi - lo) / 4));
  for (let e = lo; e <= hi; e += step) {
    ctx.beginPath(); ctx.moveTo(pad.l, Y(e)); ctx.lineTo(width - pad.r, Y(e)); ctx.stroke();
    ctx.fillText(`1e${e}`, pad.l - 4, Y(e) + 4);
  }
  ctx.fillText("0", pad.l - 4, Y(floor) + 4);
  const ends = [];
  for (let l = 0; l < layers; l++) {
    const color = css(layerColor(l, layers));
    ctx.strokeStyle = color;
    ctx.lineWidth = 2 * k;
    ctx.beginPath();
    let started = false, y = null;
    for (const p of h) {
      const v = p.norms?.[l];
      if (v === null || v === undefined) { started = false; continue; }
      y = Y(v > 0 ? Math.log10(v) : floor);
      if (started) ctx.lineTo(X(p.iteration), y); else ctx.moveTo(X(p.iteration), y);
      started = true;
    }
    ctx.stroke();
    if (y !== null) ends.push({ y, color, text: `L${l + 1}` });
  }
  // label each line at its end, nudged apart where lines end close together
  ends.sort((a, b) => a.y - b.y);
  ctx.textAlign = "left";
  let below = -Infinity;
  for (const end of ends) {
    const y = Math.max(end.y, below + 11 * k);
    below = y;
    ctx.fillStyle = end.color;
    ctx.fillText(end.text, width - pad.r + 4, y + 4);
  }
}
