// Colour scales. Diverging orange–white–blue: readable with red–green colour blindness and
// still distinguishable on a washed-out projector (lightness carries the sign's size).
export const NEG = [232, 135, 30];
export const POS = [31, 111, 178];
export const MID = [250, 250, 250];
// Units the diagnosis singles out: dead ones washed grey, saturated ones framed in purple.
export const DEAD_GREY = [118, 123, 133];
export const SATURATED = [123, 63, 178];
// Okabe–Ito colours for classes: class 0 orange and class 1 blue match the diverging scale.
export const CLASS_COLORS = [[232, 135, 30], [31, 111, 178], [0, 158, 115], [204, 121, 167], [86, 180, 233]];

function mix(a, b, t) {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

/** t in [-1, 1] → [r, g, b]: negative orange, zero white, positive blue. */
export function diverging(t) {
  if (!Number.isFinite(t)) return [160, 160, 160];
  const c = Math.max(-1, Math.min(1, t));
  return c < 0 ? mix(MID, NEG, -c) : mix(MID, POS, c);
}

export function css(rgb, alpha = 1) {
  return `rgba(${rgb[0] | 0}, ${rgb[1] | 0}, ${rgb[2] | 0}, ${alpha})`;
}

/** A signed value squashed into [-1, 1] relative to a scale, keeping small values visible. */
export function signedUnit(value, scale) {
  if (value === null || value === undefined || !Number.isFinite(value)) return NaN;
  return Math.tanh(value / (scale || 1));
}
