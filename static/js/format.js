// Every number the page shows goes through here, so one value reads the same in the graph, the
// inspector, the tooltip and the matrices. Signs use the true minus sign (−), never colour alone.
const MINUS = "−";

const missing = (v) => v === null || v === undefined;
const signed = (text) => text.replace("-", MINUS);
const SUPERSCRIPT = { 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹", "-": "⁻", "+": "" };

/** 10 to a whole power as the page writes it: "10⁻⁴", which reads as a number, where "1e-4" reads
 * as code and ran straight into the word after it ("−2.5e153activation"). */
export function power(e) {
  return `10${String(e).replace(/[-+\d]/g, (c) => SUPERSCRIPT[c])}`;
}

/** `v` with `digits` decimals in its mantissa, written m×10ⁿ. */
function scientific(v, digits) {
  const [mantissa, e] = v.toExponential(digits).split("e");
  return `${signed(mantissa)}×${power(+e)}`;
}

/** Three significant figures, for labels beside a scale (the legend's ends): plain between 10⁻³
 * and 10⁴, m×10ⁿ outside, trailing zeros dropped so "2.50" never pads the box. */
export function sci(v) {
  if (missing(v)) return "";
  if (!Number.isFinite(v)) return short(v);
  const a = Math.abs(v);
  if (a === 0) return "0";
  if (a < 1e-3 || a >= 1e4) {
    const [mantissa, e] = v.toExponential(2).split("e");
    return `${signed(String(+mantissa))}×${power(+e)}`;
  }
  return signed(String(+v.toPrecision(3)));
}

/** Compact, for labels drawn on the canvas: 3 decimals below 1, exponents outside 1e-3…1e4. */
export function short(v) {
  if (missing(v)) return "";
  if (!Number.isFinite(v)) return v > 0 ? "∞" : v < 0 ? `${MINUS}∞` : "NaN";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e4)) return scientific(v, 1);
  return signed(v.toFixed(a < 1 ? 3 : 2));
}

/** Four significant figures, trailing zeros dropped: the inspector's and tooltip's numbers. */
export function precise(v) {
  if (missing(v)) return "—";
  if (!Number.isFinite(v)) return short(v);
  return signed(Number(v).toPrecision(4).replace(/\.?0+(e|$)/, "$1").replace("e+", "e"));
}

/** A metric such as a loss: three decimals, exponents once it is large enough to overflow its box. */
export function metric(v) {
  if (missing(v)) return "–";
  if (!Number.isFinite(v)) return short(v);
  return Math.abs(v) >= 1e4 ? scientific(v, 2) : signed(v.toFixed(3));
}

/** A share as a percentage, `digits` after the point. */
export function percent(v, digits = 1) {
  return missing(v) ? "–" : `${(v * 100).toFixed(digits)}%`;
}

/** R², two decimals with a true minus (a fit worse than the mean is below 0). */
export function rSquared(v) {
  return missing(v) || !Number.isFinite(v) ? "–" : signed(v.toFixed(2));
}

/** A matrix entry: three decimals, exponents for the very small and the very large. */
export function cell(v) {
  if (missing(v)) return "·";
  const a = Math.abs(v);
  return signed(a >= 1e4 || (v !== 0 && a < 1e-3) ? v.toExponential(1) : v.toFixed(3));
}

/** A tick label for a chart axis: as few digits as the step between ticks needs. */
export function tick(v, step) {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return scientific(v, 0);
  const decimals = Math.max(0, Math.min(4, -Math.floor(Math.log10(step || 1) + 1e-9)));
  return signed(v.toFixed(decimals));
}

/** An iteration on a chart's axis: whole numbers, and k or M once `tick`'s exponents would round
 * a nice step away (15000 must not read "2e4"). */
export function count(v) {
  const a = Math.abs(v);
  if (a >= 1e6) return signed(`${+(v / 1e6).toPrecision(4)}M`);
  if (a >= 1e4) return signed(`${+(v / 1e3).toPrecision(4)}k`);
  return signed(String(Math.round(v)));
}

/** 10^e on a log axis: "1" and "10" read faster than exponents; the rest as 10⁻⁴, 10². */
export function decade(e) {
  return e === 0 ? "1" : e === 1 ? "10" : power(e);
}
