// Canvas helpers every renderer shares: sizing a canvas to its box at the screen's pixel ratio,
// the presenter's heavier ink, and measuring text as boxes (so labels can be laid out, not hoped).

/** How much heavier lines and larger labels are drawn: a projector's room reads from afar. */
export function ink(store) {
  return store.presenting ? 1.8 : 1;
}

/** Size the backing store to the element's CSS box; returns the context in CSS pixels. */
export function fitCanvas(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(canvas.clientWidth * ratio));
  const h = Math.max(1, Math.round(canvas.clientHeight * ratio));
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  return { ctx, width: canvas.clientWidth, height: canvas.clientHeight };
}

export const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";

/** A font string for `size` CSS pixels. */
export function font(size, weight = "") {
  return `${weight ? `${weight} ` : ""}${size}px ${FONT}`;
}

/** The box `text` occupies when drawn at (x, y) with the context's current font and alignment. */
export function textBox(ctx, text, x, y, pad = 1) {
  const m = ctx.measureText(text);
  const w = m.width;
  const ascent = m.actualBoundingBoxAscent ?? 0.75 * parseFloat(ctx.font);
  const descent = m.actualBoundingBoxDescent ?? 0.25 * parseFloat(ctx.font);
  const left = ctx.textAlign === "center" ? x - w / 2 : ctx.textAlign === "right" || ctx.textAlign === "end" ? x - w : x;
  let top;
  if (ctx.textBaseline === "middle") top = y - (ascent + descent) / 2;
  else if (ctx.textBaseline === "top" || ctx.textBaseline === "hanging") top = y;
  else if (ctx.textBaseline === "bottom") top = y - ascent - descent;
  else top = y - ascent; // alphabetic
  return { x: left - pad, y: top - pad, w: w + 2 * pad, h: ascent + descent + 2 * pad };
}

/** Start a path of a rectangle with rounded corners (a plain one where the browser has no roundRect). */
export function roundRect(ctx, x, y, w, h, r) {
  ctx.beginPath();
  if (ctx.roundRect) ctx.roundRect(x, y, w, h, r); else ctx.rect(x, y, w, h);
}

/** Do two boxes {x, y, w, h} overlap? */
export function overlaps(a, b) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/** Where a point of the plane lands on a width × height canvas, and back. */
export function planeMapping(extent, width, height) {
  return {
    toX: (x1) => ((x1 + extent) / (2 * extent)) * width,
    toY: (x2) => ((extent - x2) / (2 * extent)) * height,
    fromX: (x) => (x / width) * 2 * extent - extent,
    fromY: (y) => extent - (y / height) * 2 * extent,
  };
}
