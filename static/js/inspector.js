// The inspector: the chain rule for one node written out with its numbers. The server sends
// each explanation as structure (`rows`, docs/protocol.md): a row is words, or an equation
// (what is computed, the steps that compute it, its result, a note); this draws that
// structure and parses no prose. A small formatter instead of a TeX engine.
// Reads the store; writes only into its own DOM elements. The inspector is also the text
// alternative to the canvas: each op's explanation is read out to a screen reader.
import { exportLinks, renderBatch } from "./batch.js";
import { el } from "./dom.js";
import { precise as fmt, short } from "./format.js";
import { set } from "./store.js";

const $ = (id) => document.getElementById(id);

/** One explanation row as DOM: words as a sentence, an equation as symbol = steps = result (note). */
export function renderRow(row) {
  if (row.words !== undefined) return el("p", "words", row.words);
  const line = el("p", "equation");
  line.append(el("span", "lhs", row.symbol), el("span", "eq", ` ${row.relation} `));
  row.steps.forEach((step) => line.append(el("span", "middle", step), el("span", "eq", " = ")));
  line.append(el("b", "result", row.result));
  if (row.note) line.append(el("span", "note", ` (${row.note})`));
  return line;
}

function termsList(terms, labelOf) {
  const box = el("div", "terms");
  box.append(el("p", "words", "term by term, one per outgoing edge:"));
  for (const t of terms) {
    box.append(el("p", "term", `${t.edge} · dL/dz(${labelOf(t.from)}) = ${fmt(t.w)} × ${fmt(t.grad)} = ${fmt(t.product)}`));
  }
  const sum = terms.reduce((s, t) => s + (t.product ?? 0), 0);
  box.append(el("p", "term total", `sum = ${fmt(sum)}`));
  return box;
}

/** What the inspector shows: a clicked node's explanation, else the cursor's step. */
export function inspected(store) {
  const s = store.state;
  if (store.pinned && store.explained?.node === store.pinned) return store.explained;
  return s?.explain || null;
}

const PHASE_WORDS = { forward: "forward pass", backward: "backward pass", update: "update", idle: "" };

export function renderInspector(root, store) {
  const s = store.state;
  const shown = inspected(store);
  const title = root.querySelector("#inspector-title");
  const box = root.querySelector("#explain");
  const key = JSON.stringify([shown, s?.seq === undefined ? null : s.cursor]);
  if (box.dataset.key === key) return; // nothing new: leave the DOM (and any text selection) alone
  box.dataset.key = key;
  box.replaceChildren();
  if (!shown) {
    title.textContent = "Inspector";
    box.append(el("p", "hint", "Step one op (→) to follow one example forward through the network and its gradient "
      + "back again; ← undoes a step. Click any node to read how its numbers came about."));
    return;
  }
  const node = store.graph?.nodes.find((n) => n.id === shown.node);
  const label = node?.kind === "gate" ? `gate ${node.id} (${node.label})` : node?.label || shown.node;
  title.textContent = `${label} · ${store.pinned === shown.node ? "everything so far" : PHASE_WORDS[shown.phase] || shown.phase}`;
  for (const row of shown.rows) {
    box.append(renderRow(row));
    // the edge-by-edge sum belongs under the equation it adds up: the unit's dL/da
    if (shown.terms && row.quantity === "grad_a") {
      box.append(termsList(shown.terms, (id) => store.graph?.nodes.find((n) => n.id === id)?.label || id));
    }
  }
}

export function renderVerify(p, result) {
  p.hidden = !result;
  if (!result) return;
  const err = result.max_rel_error;
  const ok = err !== null && err < 1e-6;
  p.className = `verify ${ok ? "good" : "bad"}`;
  p.textContent = err === null
    ? "The finite-difference check could not be computed: the run has non-finite numbers."
    : `${ok ? "✓ Backprop agrees with finite differences" : "✗ Backprop and finite differences disagree"}: `
      + `largest relative error ${short(err)} at ${result.worst} `
      + `(backprop ${fmt(result.backprop)}, numeric ${fmt(result.numeric)}), ${result.checked} parameters, batch of ${result.batch}.`;
}

/** Binds the inspector's own controls: verify and the batch view. */
export function bindInspector({ store, socket }) {
  exportLinks(document.querySelector("#code-menu .export-links"), document.body.dataset.session);
  $("verify").addEventListener("click", () => { set(store, "verify", null); socket.send({ type: "verify" }, $("verify")); });
  $("batch-toggle").addEventListener("change", (e) => {
    set(store, "batch", null);
    set(store, "batchOpen", e.target.checked);
    if (store.batchOpen) socket.send({ type: "batch" }, e.target);
  });

  // after each state: refresh what the inspector and the batch view explain
  socket.listen((message) => {
    if (message.type !== "state" || store.state?.playing) return;
    if (store.pinned && !store.pinned.startsWith("unit:")) socket.send({ type: "explain", node: store.pinned }, null);
    if (store.batchOpen) socket.send({ type: "batch" }, null);
  });

  let announced = "";
  /** A screen reader hears each op's explanation once, not every frame. */
  function announce() {
    const s = store.state;
    if (!s || s.playing) return;
    const shown = inspected(store);
    const text = shown ? `${$("inspector-title").textContent}. ${shown.lines.join(". ")}` : "";
    if (text === announced) return;
    announced = text;
    $("announce").textContent = text;
  }

  return {
    paint() {
      renderInspector($("inspector"), store);
      renderVerify($("verify-result"), store.verify);
      announce();
      const panel = $("batch-panel");
      panel.hidden = !store.batchOpen;
      $("batch-toggle").checked = store.batchOpen;
      // while the room is asked a matrix's shape, the batch view (which states every shape) waits
      const askingShape = store.question?.open && store.question.kind === "shape";
      const key = askingShape ? "asking" : String(store.batch?.re ?? "none");
      if (store.batchOpen && panel.dataset.seq !== key) {
        panel.dataset.seq = key;
        if (askingShape) panel.replaceChildren(el("p", "hint", "The shapes are hidden until the question is answered."));
        else renderBatch(panel, store.batch);
      }
    },
  };
}
