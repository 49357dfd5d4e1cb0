// "Predict first": a learner alone predicts each op before the network shows it, with worked
// examples that fade into practice (Moreno et al. 2009). In the first iteration after turning it
// on each op simply runs and its working is read in full; in the next, a step first asks for the
// op's number with its working shown but for one factor of each product (□) and every result;
// from the third, only the formulas are given. A wrong answer shows the whole working at once,
// and that kind of op comes back with its numbers until it is answered right. With the batch view
// open, the backward pass of each layer first asks the shape of its dW (where `Xᵀ @ dZ` and
// `.sum(0)` trip learners up). The questions are the room's questions (ask, answer, reveal), so
// the server works out every truth.
import { set } from "./store.js";

const $ = (id) => document.getElementById(id);

/** What kind of op the next one is: fading is tracked per kind. */
export function opKind(state, graph) {
  const next = state?.next;
  if (!next) return null;
  const node = graph?.nodes.find((n) => n.id === next.node);
  const what = state.view === "gate" ? (node?.op || "gate") : node?.kind === "loss" ? "loss" : node?.kind || "unit";
  return `${state.view}:${next.phase}:${what}`;
}

/** How much of the working is left out for this kind: 0 (all shown), 1 (one factor), 2 (all numbers). */
export function fadeFor(kind, iterationsIn, practise) {
  const level = Math.max(0, Math.min(2, iterationsIn));
  return practise.has(kind) ? Math.min(level, 1) : level;
}

export function bindPredict({ store, socket, token }) {
  let startIteration = null; // the iteration predicting began in
  let asked = null; // { id?, kind, fade, re } of the question this page asked
  const practise = new Set(); // kinds answered wrongly: they come back with their numbers
  const shapesAsked = new Set(); // "iteration:layer": a layer's dW shape is asked once an iteration
  const note = $("predict-note");

  $("predict").addEventListener("change", (e) => {
    set(store, "predicting", e.target.checked);
    startIteration = e.target.checked ? store.state?.iteration ?? 0 : null;
    note.hidden = true;
  });
  if (!token) $("predict").disabled = true;

  /** Called before a step of one op: true if the step waits for a prediction first. */
  function askFirst() {
    if (!store.predicting || !store.state) return false;
    const q = store.question;
    if (q?.open) { document.querySelector("#question .key, #question .choice")?.focus(); return true; }
    if (asked?.settled) { asked = null; return false; } // revealed or put away: this press steps on
    const shape = shapeToAsk();
    if (shape) {
      asked = { kind: "shape", fade: 0, re: socket.send({ type: "ask", kind: "shape", target: { matrix: shape } }, $("step")) };
      return true;
    }
    const kind = opKind(store.state, store.graph);
    const fade = fadeFor(kind, store.state.iteration - startIteration, practise);
    if (fade === 0) { // a worked example: the op runs and its working is read in full
      note.hidden = false;
      note.textContent = "Worked example: read how this number comes about. Next iteration you predict it.";
      return false;
    }
    note.hidden = true;
    const target = weightTarget();
    const command = target ? { type: "ask", kind: "number", fade, target } : { type: "ask", kind: "number", fade };
    asked = { kind, fade, re: socket.send(command, $("step")) };
    return true;
  }

  /** Going back through a unit, every other iteration asks a weight's gradient for this example
   * (dL/dw = dL/dz · its input) instead of the unit's dL/dz, so both products get practised. */
  function weightTarget() {
    const s = store.state;
    const unit = store.graph?.nodes.find((n) => n.id === s.next.node);
    const isUnit = unit && (unit.kind === "neuron" || unit.kind === "output");
    if (s.view !== "neuron" || s.next.phase !== "backward" || !isUnit || (s.iteration - startIteration) % 2 === 1) return null;
    return { param: `W${unit.layer}`, i: 0, j: unit.index, quantity: "example_grad" };
  }

  /** With the batch view open, the first backward op of a layer asks its dW's shape first. */
  function shapeToAsk() {
    const s = store.state;
    const unit = store.graph?.nodes.find((n) => n.id === s.next.node);
    if (!store.batchOpen || s.view !== "neuron" || s.next.phase !== "backward" || !unit?.layer) return null;
    const key = `${s.iteration}:${unit.layer}`;
    if (shapesAsked.has(key)) return null;
    shapesAsked.add(key);
    return `dW${unit.layer}`;
  }

  socket.listen((message) => {
    if (!asked) return;
    if (message.type === "question" && message.re === asked.re) asked.id = message.id;
    if (message.type === "error" && message.re === asked.re) asked = null; // not askable here: the step may go on
    // alone, the answer is the reveal: the working comes at once, right or wrong
    if (message.type === "answered" && message.question === asked.id) {
      socket.send({ type: "reveal", question: asked.id }, $("question"));
    }
    if (message.type === "question" && message.id === asked.id && !message.open) asked.settled = true;
    if (message.type === "reveal" && message.question === asked.id) {
      asked.settled = true;
      if (message.right) practise.delete(asked.kind);
      else practise.add(asked.kind);
    }
  });

  return { askFirst, paint() { $("predict").checked = Boolean(store.predicting); } };
}
