// The fit of one input drawn as a line: the data at (x1, y), the network's prediction over x1 and,
// when asked, each unit's piece a·w of the output's sum, so a learner sees bent pieces add up to
// the fit. Reads the store; x1 runs across and y up, both over the plane's ±extent, so a click
// lands where the point will be drawn (planeMapping).
import { font, ink, planeMapping } from "./canvas.js";
import { CLASS_COLORS, css, POS } from "./colors.js";
import { sci } from "./format.js";

const AXIS = "#5b6475";
const POINT = [58, 66, 80];

/** The plot's frame: light grid lines every 2, the axes through 0, ticks at ±extent and ±extent/2. */
function frame(ctx, m, width, height, extent, scale) {
  ctx.fillStyle = "#fbfbfc";
  ctx.fillRect(0, 0, width, height);
  ctx.lineWidth = 1;
  for (let v = -extent + 2; v < extent; v += 2) {
    ctx.strokeStyle = v === 0 ? "#9aa2b1" : "#e6e8ec";
    ctx.beginPath(); ctx.moveTo(m.toX(v), 0); ctx.lineTo(m.toX(v), height); ctx.stroke();
    ctx.beginPath(); ctx.moveTo(0, m.toY(v)); ctx.lineTo(width, m.toY(v)); ctx.stroke();
  }
  ctx.fillStyle = AXIS;
  ctx.font = font(11 * scale);
  ctx.textBaseline = "top";
  for (const v of [-extent / 2, extent / 2]) {
    ctx.textAlign = "center";
    ctx.fillText(sci(v), m.toX(v), m.toY(0) + 3);
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    ctx.fillText(sci(v), m.toX(0) + 4, m.toY(v));
    ctx.textBaseline = "top";
  }
  ctx.textAlign = "right";
  ctx.fillText("x1", width - 4, m.toY(0) + 3);
  ctx.textAlign = "left";
  ctx.fillText("y", m.toX(0) + 4, 4);
}

/** A series sampled at equal steps from x0 to x1, as one polyline. */
function line(ctx, m, x0, x1, values) {
  const step = (x1 - x0) / Math.max(1, values.length - 1);
  ctx.beginPath();
  let drawing = false;
  values.forEach((v, k) => {
    if (v === null || !Number.isFinite(v)) { drawing = false; return; }
    const x = m.toX(x0 + k * step), y = m.toY(v);
    if (drawing) ctx.lineTo(x, y); else ctx.moveTo(x, y);
    drawing = true;
  });
  ctx.stroke();
}

/** Every point at (x1, y): training points filled, test points hollow (as the boundary marks test with a rim). */
export function curvePoints(ctx, m, points, radius, test = false) {
  ctx.lineWidth = test ? 1.6 : 1;
  for (const [x1, y] of points) {
    ctx.beginPath();
    ctx.arc(m.toX(x1), m.toY(y), radius, 0, 2 * Math.PI);
    ctx.fillStyle = test ? "#ffffff" : css(POINT, 0.75);
    ctx.strokeStyle = test ? css(POINT) : "#ffffff";
    ctx.fill();
    ctx.stroke();
  }
}

/** The pieces' colours: one per unit, in the order of the layer. */
export const pieceColor = (j) => CLASS_COLORS[(j + 2) % CLASS_COLORS.length];

export function drawCurve(ctx, width, height, store, radius) {
  const extent = store.grid?.extent || store.hello?.limits?.coordinate || 6;
  const m = planeMapping(extent, width, height), scale = ink(store);
  frame(ctx, m, width, height, extent, scale);
  const { dataset, state } = store;
  if (dataset) {
    curvePoints(ctx, m, dataset.test, radius, true);
    curvePoints(ctx, m, dataset.train, radius);
  }
  const curve = state?.curve;
  if (curve) {
    if (store.showPieces) {
      ctx.lineWidth = 1.6 * scale;
      curve.pieces.forEach((piece, j) => { ctx.strokeStyle = css(pieceColor(j), 0.9); line(ctx, m, curve.x0, curve.x1, piece); });
      if (curve.bias !== null) { // the output's bias: the one term that is the same at every x
        ctx.setLineDash([6, 5]);
        ctx.strokeStyle = css(POINT, 0.8);
        line(ctx, m, curve.x0, curve.x1, [curve.bias, curve.bias]);
        ctx.setLineDash([]);
      }
    }
    ctx.lineWidth = 3.2 * scale;
    ctx.strokeStyle = css(POS);
    line(ctx, m, curve.x0, curve.x1, curve.prediction);
  }
  return m;
}

/** A sweep's thumbnail of a curve fit: its prediction read off the surface's first row (the
 * surface does not change with x2), the training points under it. */
export function drawCurveThumb(ctx, size, thumbnail, resolution, extent, limit, points) {
  const m = planeMapping(extent, size, size);
  ctx.fillStyle = "#fbfbfc";
  ctx.fillRect(0, 0, size, size);
  if (points) curvePoints(ctx, m, points, 2);
  const prediction = Array.from(thumbnail.subarray(0, resolution), (b) => -limit + (b / 255) * 2 * limit);
  const half = extent / resolution; // the grid's cells are sampled at their centres
  ctx.lineWidth = 2.4;
  ctx.strokeStyle = css(POS);
  line(ctx, m, -extent + half, extent - half, prediction);
}
