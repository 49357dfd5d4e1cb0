// The gate playground: a learner's expression, its gates drawn by the gate view and stepped
// forward then backward one gate at a time, each step written out by the inspector's rows.
// The server replays the whole expression once (GET /api/playground, docs/protocol.md); the
// page only moves a position through its steps, so stepping never waits on the network.
// The link holds the expression and the values (?expr=…&values=x:0.5,w:-1.2): the page sends
// its own query to the server as it is, and shows the server's refusal of any of it.
// One store (window.__playground); renderers read it, the handlers below write it.
import { fitCanvas } from "./canvas.js";
import { el } from "./dom.js";
import { precise } from "./format.js";
import { drawGateView, hitTestGateView, layoutGateView } from "./gateview.js";
import { renderRow } from "./inspector.js";
import { bindViewport, toWorld } from "./viewport.js";

const $ = (id) => document.getElementById(id);
const UNIT = "expression"; // the one unit of the graph: always unfolded
const PHASE_WORDS = { forward: "forward", backward: "backward" };

const store = {
  answer: null, // the server's replay: graph, start, steps, value, grads, problem
  refusal: null, // the server's error body, {error: {message, field, column?}, variables}
  position: 0, // steps done
  pinned: null, // a clicked node: the inspector shows everything so far about it
  expr: "", values: new Map(), // what the fields hold (name → text)
  variables: [], // the fields shown, in the expression's order
  moved: false, // the cursor moved since the last paint (the view may follow it)
  loading: 0, // requests sent, to tell the newest answer from a late one
  dirty: true,
};
window.__playground = store;

// --- the link and the server ----------------------------------------------------------------------

/** "x:0.5,w:-1.2" → Map; lenient, only to fill the fields (the server judges the link). */
function readValues(text) {
  const values = new Map();
  for (const entry of (text || "").split(",")) {
    const at = entry.indexOf(":");
    if (at > 0) values.set(entry.slice(0, at).trim(), entry.slice(at + 1).trim());
  }
  return values;
}

/** The query the fields stand for: the expression and every value the page holds. (Which names
 * the expression uses only the server can say: the values it did not use are dropped from the
 * page, and from its link, when its answer comes.) */
function queryOfFields() {
  const values = [...store.values].filter(([, text]) => text !== "").map(([n, text]) => `${n}:${text}`).join(",");
  return new URLSearchParams({ expr: store.expr, values }).toString();
}

async function load(query) {
  const ticket = ++store.loading;
  let body, ok;
  try {
    const response = await fetch(`/api/playground?${query}`);
    ok = response.ok;
    body = await response.json();
  } catch {
    ok = false;
    body = { error: { message: "The server did not answer: is it still running?" }, variables: store.variables };
  }
  if (ticket !== store.loading) return; // a newer request has been sent since
  if (ok) {
    const same = store.answer && graphKey(store.answer) === graphKey(body);
    store.position = same ? Math.min(store.position, body.steps.length) : 0;
    if (!same) store.pinned = null;
    store.answer = body;
    store.refusal = null;
    store.variables = body.variables;
    const unused = [...store.values.keys()].some((name) => !body.variables.includes(name));
    for (const name of [...store.values.keys()]) if (!body.variables.includes(name)) store.values.delete(name);
    if (unused) { query = queryOfFields(); history.replaceState(null, "", `?${query}`); }
  } else {
    store.refusal = body;
    if (body.variables?.length) store.variables = body.variables;
  }
  for (const a of document.querySelectorAll("#pg-code a[data-format]")) {
    a.href = `/api/playground/export?${query}&format=${a.dataset.format}`;
  }
  store.dirty = true;
}

const graphKey = (answer) => JSON.stringify([answer.graph.nodes.map((n) => n.id), answer.graph.edges.map((e) => e.id)]);

let typing = 0;
/** A field changed: the link follows at once, the server a moment later (not on every key). */
function fieldsChanged() {
  const query = queryOfFields();
  history.replaceState(null, "", `?${query}`);
  clearTimeout(typing);
  typing = setTimeout(() => load(query), 200);
}

// --- what the gates hold at a position --------------------------------------------------------------

/** The gate view's state at `position`: each node's value and gradient so far, the cursor and the
 * phase. Pure: worked out from the replay's steps. */
export function stateAt(answer, position) {
  const nodes = {};
  for (const [id, a] of Object.entries(answer.start)) nodes[id] = { a, grad_a: null };
  const done = answer.steps.slice(0, position);
  for (const s of done) {
    if (s.phase === "forward") nodes[s.node] = { a: s.value, grad_a: null };
    else for (const [id, g] of Object.entries(s.grads)) nodes[id] = { ...nodes[id], grad_a: g };
  }
  const last = done[done.length - 1];
  return { nodes, cursor: last?.node ?? null, phase: last?.phase ?? "idle", playing: false };
}

/** Everything so far about one node: its steps, and the backward steps that handed it a gradient. */
function aboutNode(answer, position, id) {
  const rows = [];
  if (id in answer.start) {
    const node = answer.graph.nodes.find((n) => n.id === id);
    rows.push({ symbol: id, relation: "=", steps: [], result: precise(answer.start[id]),
      note: node.kind === "input" ? "a variable" : "a number in the expression" });
  }
  for (const s of answer.steps.slice(0, position)) {
    if (s.node === id || (s.phase === "backward" && s.inputs.includes(id))) rows.push(...s.explain.rows);
  }
  return rows.length ? rows : [{ words: "Not reached yet." }];
}

// --- painting ------------------------------------------------------------------------------------------------

const canvas = $("pg-canvas");
const MIN_ZOOM = 0.9; // below this a phone's labels are too small to read: the graph pans instead
const MAX_ZOOM = 1.6; // a short expression on a large screen is drawn larger, for the back of a room
let layout = null, layoutKey = "";
const view = { k: 1, tx: 0, ty: 0, user: false };

/** Shown whole and centred when it fits at a readable size; else at MIN_ZOOM from its left edge. */
function fitView(bounds, w, h) {
  const k = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, (w - 8) / bounds.w, (h - 8) / bounds.h));
  const tx = bounds.w * k <= w ? (w - bounds.w * k) / 2 - bounds.x * k : 4 - bounds.x * k;
  Object.assign(view, { k, tx, ty: (h - bounds.h * k) / 2 - bounds.y * k, user: false });
}

/** When the cursor's gate has left the canvas (a wide graph on a phone), pan just enough to bring it back. */
function keepInView(node, w) {
  if (!node || view.user || layout.bounds.w * view.k <= w) return; // it fits, or the learner has panned: stay put
  const left = (node.x - node.w / 2) * view.k + view.tx, right = (node.x + node.w / 2) * view.k + view.tx;
  const margin = 60;
  if (left < margin) view.tx += Math.min(w / 2, margin - left);
  else if (right > w - margin) view.tx -= Math.min(w / 2, right - (w - margin));
}

function currentLayout() {
  const answer = store.answer;
  if (!answer) return null;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  const key = `${graphKey(answer)}|${w}x${h}`;
  if (key !== layoutKey) {
    layout = layoutGateView(answer.graph, [UNIT], w, h, { scale: 1 });
    fitView(layout.bounds, w, h);
    layoutKey = key;
  }
  return layout;
}

function paintGraph() {
  const { ctx, width, height } = fitCanvas(canvas);
  ctx.clearRect(0, 0, width, height);
  const l = currentLayout();
  if (!l) return;
  const state = stateAt(store.answer, store.position);
  if (store.moved) keepInView(l.nodes.get(state.cursor), width);
  store.moved = false;
  ctx.save();
  ctx.translate(view.tx, view.ty);
  ctx.scale(view.k, view.k);
  drawGateView(ctx, l, { state, pinned: store.pinned, hover: null, mode: "auto" });
  ctx.restore();
}

function paintInspector() {
  const answer = store.answer, title = $("inspector-title"), box = $("explain");
  box.replaceChildren();
  if (!answer) { title.textContent = "Inspector"; return; }
  if (store.pinned) {
    title.textContent = `${store.pinned} · everything so far`;
    for (const row of aboutNode(answer, store.position, store.pinned)) box.append(renderRow(row));
    return;
  }
  const step = answer.steps[store.position - 1];
  if (!step) {
    title.textContent = "Inspector";
    box.append(el("p", "hint", `Step (→) runs the first of ${answer.steps.length / 2} gates forward; after the last, `
      + "the backward pass hands each gate's gradient back to its inputs, the last gate first. ← undoes a step. "
      + "Click a gate or a variable to read everything about it so far."));
    return;
  }
  title.textContent = `gate ${step.node} · ${PHASE_WORDS[step.phase]} pass`;
  for (const row of step.explain.rows) box.append(renderRow(row));
}

function paintResult() {
  const answer = store.answer, out = $("pg-result");
  if (!answer) { out.textContent = ""; return; }
  const n = answer.steps.length / 2, p = store.position;
  $("pg-phase").textContent = p === 0 ? "start" : p <= n ? `forward ${p}/${n}` : `backward ${p - n}/${n}`;
  const forwardDone = p >= n, backwardDone = p === 2 * n;
  const grads = answer.variables.map((v) => `dL/d${v} = ${backwardDone ? precise(answer.grads[v]) : "…"}`).join("   ");
  out.textContent = `L = ${forwardDone ? precise(answer.value) : "…"}   ${grads}`;
  $("pg-problem").hidden = !answer.problem;
  $("pg-problem").textContent = answer.problem ? `Not a number: ${answer.problem}` : "";
  $("pg-back").disabled = $("pg-start").disabled = p === 0;
  $("pg-step").disabled = $("pg-end").disabled = p === 2 * n;
}

/** The refusal: the message, a caret under the column it points at, and the field marked. */
function paintRefusal() {
  const error = store.refusal?.error;
  $("pg-error").hidden = !error;
  $("pg-error").textContent = error ? error.message : "";
  const atExpr = error?.field === "expr" && error.column;
  $("pg-caret").textContent = atExpr ? `${" ".repeat(error.column - 1)}^` : "";
  $("pg-expr").setAttribute("aria-invalid", String(Boolean(error && error.field === "expr")));
  for (const input of $("pg-values").querySelectorAll("input")) {
    const missing = error && new RegExp(`\\b${input.name}\\b`).test(error.message) && error.field !== "query";
    input.setAttribute("aria-invalid", String(Boolean(missing)));
  }
}

/** One field per variable, in the expression's order; a field being typed in is never replaced. */
function paintValueFields() {
  const box = $("pg-values");
  const shown = [...box.querySelectorAll("input")].map((i) => i.name);
  if (JSON.stringify(shown) === JSON.stringify(store.variables)) return;
  box.replaceChildren(...store.variables.map((name) => {
    const label = el("label", "", name + " =");
    const input = el("input");
    Object.assign(input, { name, value: store.values.get(name) ?? "", inputMode: "decimal", spellcheck: false });
    input.setAttribute("aria-label", `value of ${name}`);
    input.addEventListener("input", () => { store.values.set(name, input.value.trim()); fieldsChanged(); });
    label.append(input);
    return label;
  }));
}

function paint() {
  if (!store.dirty) return;
  store.dirty = false;
  paintValueFields();
  paintRefusal();
  paintResult();
  paintInspector();
  paintGraph();
}

function frame() {
  paint();
  requestAnimationFrame(frame);
}

// --- stepping ------------------------------------------------------------------------------------------------

function moveTo(position) {
  if (!store.answer) return;
  store.position = Math.max(0, Math.min(store.answer.steps.length, position));
  store.pinned = null;
  store.moved = true;
  store.dirty = true;
}

function bind() {
  $("pg-step").addEventListener("click", () => moveTo(store.position + 1));
  $("pg-back").addEventListener("click", () => moveTo(store.position - 1));
  $("pg-start").addEventListener("click", () => moveTo(0));
  $("pg-end").addEventListener("click", () => moveTo(Infinity));
  document.addEventListener("keydown", (e) => {
    if (e.target.closest?.("input, textarea, select") || e.altKey || e.ctrlKey || e.metaKey) return;
    const to = { ArrowRight: store.position + 1, ArrowLeft: store.position - 1, Home: 0, End: Infinity }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    moveTo(to);
  });
  $("pg-form").addEventListener("submit", (e) => e.preventDefault());
  $("pg-expr").addEventListener("input", (e) => { store.expr = e.target.value; fieldsChanged(); });
  bindViewport(canvas, view, {
    onChange: () => { store.dirty = true; },
    onTap: (x, y) => { // a gate or a variable tapped: pinned, and the inspector tells everything about it
      if (!layout) return;
      const at = toWorld(view, x, y), hit = hitTestGateView(layout, at.x, at.y);
      store.pinned = hit && hit.id !== store.pinned ? hit.id : null;
      store.dirty = true;
    },
    onReset: () => { layoutKey = ""; store.dirty = true; },
  });
  new ResizeObserver(() => { store.dirty = true; }).observe(canvas);
}

function start() {
  // no link yet: the first preset's, so the page opens on the seeds' chain and its address says so
  const query = location.search.slice(1) || new URL(document.querySelector(".pg-presets a").href).search.slice(1);
  if (!location.search) history.replaceState(null, "", `?${query}`);
  const params = new URLSearchParams(query);
  store.expr = params.get("expr") ?? "";
  store.values = readValues(params.get("values"));
  $("pg-expr").value = store.expr;
  bind();
  load(query);
  requestAnimationFrame(frame);
}

start();
