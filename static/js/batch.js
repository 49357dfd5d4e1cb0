// The batch view: each layer as one matrix product over the minibatch, with the shapes and
// the current numbers, forward and backward. Reads a `batch` message; writes only its panel.
import { el } from "./dom.js";
import { cell } from "./format.js";
const shape = (s) => s.join("×");

function matrix(name, values, dims, note) {
  const box = el("figure", "matrix");
  box.append(el("figcaption", "", `${name} (${shape(dims)})${note ? ` ${note}` : ""}`));
  if (values === null || values === undefined) {
    box.append(el("p", "pending", "not reached yet"));
    return box;
  }
  const table = el("table");
  const rows = Array.isArray(values[0]) ? values : [values];
  for (const row of rows) {
    const tr = el("tr");
    for (const v of row) tr.append(el("td", v < 0 ? "neg" : "", cell(v)));
    table.append(tr);
  }
  box.append(table);
  return box;
}

const EXPORTS = [["numpy", "numpy script (the formulas by hand)"], ["pytorch", "PyTorch script (autograd)"],
  ["jax", "jax script (autograd)"], ["json", "the numbers (JSON)"]];

/** Links that download this iteration as a script to run, or as data: the same batch, weights
 * and gradients the page shows, to check in one's own notebook. */
export function exportLinks(box, session) {
  box.replaceChildren(el("span", "export-title", "Check it in your own code:"));
  for (const [format, words] of EXPORTS) {
    const a = el("a", "button", words);
    a.href = `/api/sessions/${encodeURIComponent(session)}/export?format=${format}`;
    a.setAttribute("download", "");
    box.append(a);
  }
  return box;
}

export function renderBatch(panel, batch) {
  panel.replaceChildren();
  if (!batch) {
    panel.append(el("p", "hint", "loading the batch…"));
    return;
  }
  const cut = batch.rows_shown < batch.n ? `(first ${batch.rows_shown} of ${batch.n} rows)` : "";
  panel.append(el("p", "words", `Iteration ${batch.iteration}: the minibatch is ${batch.n} example${batch.n > 1 ? "s" : ""} `
    + `(training rows ${batch.examples[0]}–${batch.examples.at(-1)}), one row each. Every layer is one matrix product for all of them at once.`));
  panel.append(exportLinks(el("p", "export-links"), document.body.dataset.session));
  for (const layer of batch.layers) {
    const l = layer.layer, s = layer.shapes;
    const prev = l === 1 ? "X" : `A${l - 1}`;
    const section = el("section", "batch-layer");
    section.append(el("h3", "", `Layer ${l} · ${layer.activation}`));
    section.append(el("p", "equation", `${prev} (${shape(s.X)}) @ W${l} (${shape(s.W)}) + b${l} (${shape(s.b)}) → Z${l} (${shape(s.Z)}),  A${l} = f(Z${l})`));
    const forward = el("div", "matrices");
    forward.append(matrix(prev, layer.X, s.X, cut), matrix(`W${l}`, layer.W, s.W), matrix(`b${l}`, layer.b, s.b), matrix(`Z${l}`, layer.Z, s.Z, cut));
    section.append(forward);
    section.append(el("p", "equation", `dW${l} = ${prev}ᵀ @ dZ${l}  (${s.X[1]}×${s.X[0]} @ ${shape(s.dZ)} → ${shape(s.dW)})    `
      + `db${l} = dZ${l}.sum(0)  (${shape(s.db)})    d${prev} = dZ${l} @ W${l}ᵀ  (${shape(s.dZ)} @ ${s.W[1]}×${s.W[0]} → ${shape(s.dX)})`));
    section.append(el("p", "words", `Why db sums over the batch: b${l} was added to every one of the ${batch.n} row${batch.n > 1 ? "s" : ""} in the forward pass `
      + "(broadcast), so each row's gradient reaches it and they add up. Each W entry likewise touches every row: Xᵀ @ dZ adds their products."));
    const backward = el("div", "matrices");
    backward.append(matrix(`dZ${l}`, layer.dZ, s.dZ, cut), matrix(`dW${l}`, layer.dW, s.dW), matrix(`db${l}`, layer.db, s.db),
      matrix(`d${prev}`, layer.dX, s.dX, cut));
    section.append(backward);
    panel.append(section);
  }
}
