// Why a run is stuck, on screen: the server's findings as sentences (the gradient-norm chart
// that goes with them is in charts.js). Writes only into its own element.
import { el } from "./dom.js";
import { percent } from "./format.js";

const LABELS = { diverged: "diverged", dead: "dead units", saturated: "saturated", symmetric: "copies",
  vanishing: "vanishing gradient", exploding: "exploding gradient", plateau: "plateau" };

/** One line per condition present; a short all-clear when there is none. */
export function renderDiagnosis(box, diagnostics, score) { // score: the share right, or R²
  box.replaceChildren();
  if (!diagnostics) return;
  if (!diagnostics.findings.length) {
    const healthy = "every unit fires somewhere, none is saturated, and the gradient reaches the first layer";
    // the trend is judged between checkpoints whole epochs apart: say which ones, as the server did
    const judged = diagnostics.judged;
    const falling = diagnostics.gain === null || !judged ? "it is too early to tell whether the loss has stopped falling"
      : `the loss fell ${percent(diagnostics.gain)} over the ${judged.window} iterations to ${judged.iteration}`;
    box.append(el("p", "finding clear", score !== null && score < 0.9
      ? `Not stuck yet: ${healthy}; ${falling}.` : `Nothing looks stuck: ${healthy}.`));
    return;
  }
  for (const f of diagnostics.findings) {
    const line = el("p", `finding ${f.kind}`);
    line.append(el("b", "tag", LABELS[f.kind] || f.kind), " ", f.text);
    box.append(line);
  }
}
