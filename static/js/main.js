// Boots the page: one store, one socket, renderers on one requestAnimationFrame loop that
// paints only when the store changed and acknowledges each frame after painting it.
import { renderBatch } from "./batch.js";
import { bindClassroom, renderScene } from "./classroom.js";
import { bindControls, showConfig, showFieldError } from "./controls.js";
import { drawGradChart, renderDiagnosis } from "./diagnosis.js";
import { judge, renderInspector, renderVerify } from "./inspector.js";
import { hitTest, layoutGraph } from "./layout.js";
import { drawBoundary, drawChart, drawGraph, drawLegend } from "./render.js";
import { currentPoints, customConfig, nearest, parseCsv, toCsv } from "./points.js";
import { connect } from "./socket.js";
import { createStore } from "./store.js";
import { renderGallery, renderSeedHistory } from "./sweep.js";

const $ = (id) => document.getElementById(id);
const store = createStore();
const { session } = document.body.dataset;
const present = document.body.dataset.present === "1";
const token = presenterToken();
const controls = document.querySelector(".controls");
let layout = null, layoutKey = "", laidOut = null;
const linkedConfig = readHash(); // read before the session's own config rewrites the link
store.presenting = present;
document.body.classList.toggle("present", present);

/** A projector shows its address bar to the room: the presenter page keeps its token in this
 * tab's sessionStorage and takes it out of the address, so a reload still controls. */
function presenterToken() {
  const key = `backprop-lab:token:${session}`;
  const given = document.body.dataset.token;
  if (!present) return given;
  if (given) {
    sessionStorage.setItem(key, given);
    const query = new URLSearchParams(location.search);
    query.delete("token");
    const search = query.toString() ? `?${query}` : "";
    history.replaceState(null, "", `${location.pathname}${search}${location.hash}`);
  }
  return given || sessionStorage.getItem(key) || "";
}

const socket = connect(store, session, token, {
  onMessage(message, origin) {
    if (message.type === "error" && store.tryIt.waiting?.id === message.re) store.tryIt.waiting = null;
    if (message.type === "error") {
      showFieldError(controls, origin instanceof Element ? origin : null, message.message);
    } else if (message.type === "state" && message.re !== undefined) {
      showFieldError(controls, null, null);
    }
    if (message.type === "state") afterState(message);
    if (message.type === "graph") {
      for (const radio of document.querySelectorAll('input[name="view"]')) radio.checked = radio.value === message.view;
      if (store.pinned && !message.nodes.some((n) => n.id === store.pinned)) store.pinned = null;
    }
    if (message.type === "config") {
      showConfig(controls, message.config);
      offerClasses(message.config.dataset.classes);
      writeHash(message.config);
    }
    if (message.type === "presentation") {
      classroom.onPresentation(message, () => {
        if (linkedConfig) socket.send({ type: "configure", config: linkedConfig });
      });
    }
  },
  onGone() { showBanner("This session no longer exists. Reload the page to start a new one."); },
});

const classroom = bindClassroom({ store, socket, session, token, present });

bindControls(controls, {
  send: (command, origin) => socket.send(command, origin),
  getConfig: () => store.config,
  readOnly: !token,
});

// A viewer watches: every control that would change the run is switched off.
if (!token) {
  for (const el of document.querySelectorAll(".run-buttons button, .run-buttons select, .run-buttons input, .custom-data input, "
    + ".custom-data select, input[name=view], #try-it, #preset")) {
    el.disabled = true;
  }
  document.body.classList.add("view-only");
}

// --- the link holds the whole config, both seeds included ----------------------------------
function writeHash(config) {
  const encoded = "config=" + encodeURIComponent(JSON.stringify(config));
  if (location.hash.slice(1) !== encoded) history.replaceState(null, "", `${location.pathname}${location.search}#${encoded}`);
}

function readHash() {
  const match = location.hash.match(/config=([^&]*)/);
  if (!match) return null;
  try { return JSON.parse(decodeURIComponent(match[1])); } catch { return null; }
}

// --- run buttons and keys --------------------------------------------------------------------
const speedFromSlider = () => Math.round(10 ** +$("speed").value);
function updateSpeedLabel() { $("speed-out").textContent = `${speedFromSlider()}/s`; }
updateSpeedLabel();
$("speed").addEventListener("input", () => {
  updateSpeedLabel();
  if (store.state?.playing) socket.send({ type: "play", speed: speedFromSlider() }, $("speed"));
});
function togglePlay() {
  if (store.state?.playing) socket.send({ type: "pause" }, $("play"));
  else socket.send({ type: "play", speed: speedFromSlider() }, $("play"));
}
function step(unit) {
  const chosen = unit || $("step-unit").value;
  if (chosen === "op" && askFirst()) return;
  socket.send({ type: "step", unit: chosen }, $("step"));
}
function back() { if (store.state?.can_back) socket.send({ type: "back" }, $("back")); }
function randomize() { socket.send({ type: "randomize" }, $("randomize")); }
$("play").addEventListener("click", togglePlay);
$("step").addEventListener("click", () => step());
$("back").addEventListener("click", back);
for (const radio of document.querySelectorAll('input[name="view"]')) {
  radio.addEventListener("change", () => socket.send({ type: "view", view: radio.value }, radio));
}
$("batch-toggle").addEventListener("change", (e) => {
  store.batchOpen = e.target.checked;
  store.batch = null;
  if (store.batchOpen) socket.send({ type: "batch" }, e.target);
  store.dirty = true;
});
$("verify").addEventListener("click", () => { store.verify = null; socket.send({ type: "verify" }, $("verify")); });
$("randomize").addEventListener("click", randomize);
$("reset").addEventListener("click", () => socket.send({ type: "randomize", weight_seed: store.config?.weight_seed ?? 0 }, $("reset")));
for (const radio of document.querySelectorAll('input[name="mode"]')) {
  radio.addEventListener("change", () => { store.mode = radio.value; store.dirty = true; });
}
document.addEventListener("keydown", (e) => {
  // typing goes to the field; a focused radio or checkbox must not swallow the run's keys
  const typing = e.target.closest("input:not([type=radio]):not([type=checkbox]), select, textarea, dialog");
  if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === "f") { classroom.toggleFullscreen(); return; }
  if (!token) return;
  if (e.key === " ") { e.preventDefault(); togglePlay(); }
  else if (e.key === "ArrowRight") { e.preventDefault(); step(e.shiftKey ? "layer" : "op"); }
  else if (e.key === "ArrowLeft") { e.preventDefault(); back(); }
  else if (e.key === "r") randomize();
  else if (e.key === "g") toggleView();
  else if (e.key === "PageDown") { e.preventDefault(); classroom.moveLesson(1); }
  else if (e.key === "PageUp") { e.preventDefault(); classroom.moveLesson(-1); }
});
function toggleView() {
  const view = store.graph?.view === "gate" ? "neuron" : "gate";
  socket.send({ type: "view", view }, document.querySelector(`input[name="view"][value="${view}"]`));
}

// --- hover: live numbers for any node or edge; click an edge to type a new weight -----------
const graphCanvas = $("graph");
const tooltip = $("tooltip");
const fmt = (v) => (v === null || v === undefined ? "—" : Number(v).toPrecision(4));
function describe(hit) {
  const { state, graph } = store;
  if (hit.kind === "node" && graph.view === "gate") {
    const node = graph.nodes.find((n) => n.id === hit.id);
    const v = state?.nodes?.[hit.id] || {};
    const what = node.kind === "gate" ? `${node.label} (gate ${node.op}, part of ${node.of})\n${node.rule}` : `${node.label} (${node.kind})`;
    return `${what}\nvalue  = ${fmt(v.a)}\ndL/d·  = ${fmt(v.grad_a)}\n(click to explain)`;
  }
  if (hit.kind === "node") {
    const node = graph.nodes.find((n) => n.id === hit.id);
    const v = state?.nodes?.[hit.id] || {};
    return `${node.label} (${node.kind})\nz      = ${fmt(v.z)}\na      = ${fmt(v.a)}\ndL/dz  = ${fmt(v.grad_z)}\ndL/da  = ${fmt(v.grad_a)}`;
  }
  const edge = graph.edges.find((e) => e.id === hit.id);
  if (!edge.param) return `${edge.src} → loss`;
  const w = state?.params?.[edge.param]?.[edge.i]?.[edge.j];
  const g = state?.grads?.[edge.param]?.[edge.i]?.[edge.j];
  return `${edge.id}\nw      = ${fmt(w)}\ndL/dw  = ${fmt(g)}\n(click to set w)`;
}
graphCanvas.addEventListener("mousemove", (e) => {
  if (!layout || !store.graph) return;
  const rect = graphCanvas.getBoundingClientRect();
  const hit = hitTest(layout, store.graph, e.clientX - rect.left, e.clientY - rect.top);
  if ((hit?.id || null) !== (store.hover?.id || null)) { store.hover = hit; store.dirty = true; }
  if (!hit) { tooltip.hidden = true; return; }
  tooltip.textContent = describe(hit);
  tooltip.hidden = false;
  tooltip.style.left = `${e.clientX + 14}px`;
  tooltip.style.top = `${e.clientY + 14}px`;
});
graphCanvas.addEventListener("mouseleave", () => { tooltip.hidden = true; store.hover = null; store.dirty = true; });
graphCanvas.addEventListener("click", () => {
  const hit = store.hover;
  if (!hit || hit.kind === "node") {
    // a click pins a node: the inspector then explains everything reached there so far
    store.pinned = hit && store.pinned !== hit.id ? hit.id : null;
    if (store.pinned) socket.send({ type: "explain", node: store.pinned }, null);
    store.dirty = true;
    return;
  }
  if (hit.kind !== "edge" || !token || store.graph.view === "gate") return;
  const edge = store.graph.edges.find((e) => e.id === hit.id);
  if (!edge?.param) return;
  const current = store.state.params[edge.param];
  const typed = prompt(`New value for ${edge.id}`, current[edge.i][edge.j]);
  if (typed === null) return;
  const value = Number(typed);
  if (!Number.isFinite(value)) { showFieldError(controls, null, `${edge.id}: "${typed}" is not a number`); return; }
  const next = current.map((row) => row.slice());
  next[edge.i][edge.j] = value;
  socket.send({ type: "set_params", params: { [edge.param]: next } }, null);
});

// --- custom data on the boundary plot ------------------------------------------------------
const boundaryCanvas = $("boundary");
function planeAt(event) {
  const rect = boundaryCanvas.getBoundingClientRect();
  const extent = store.grid?.extent || 6;
  const x1 = ((event.clientX - rect.left) / rect.width) * 2 * extent - extent;
  const x2 = extent - ((event.clientY - rect.top) / rect.height) * 2 * extent;
  return [Math.round(x1 * 100) / 100, Math.round(x2 * 100) / 100];
}
/** The class picker offers exactly the classes the dataset has. */
function offerClasses(classes) {
  const select = $("point-class");
  if (select.options.length === classes) return;
  const chosen = Math.min(+select.value || 0, classes - 1);
  select.replaceChildren(...Array.from({ length: classes }, (_, k) => new Option(String(k), String(k), false, k === chosen)));
}
function sendPoints(points, origin) {
  if (!token) return;
  socket.send({ type: "configure", config: customConfig(points, store.config) }, origin);
}
function csvError(text) {
  $("csv-error").hidden = !text;
  $("csv-error").textContent = text || "";
}
boundaryCanvas.addEventListener("click", (e) => {
  const chosen = +$("point-class").value;
  const classes = store.config?.dataset.classes || 2;
  const label = e.shiftKey ? (chosen + 1) % classes : chosen; // "the other class": the next one round
  sendPoints([...currentPoints(store.config, store.dataset), [...planeAt(e), label]], boundaryCanvas);
});
boundaryCanvas.addEventListener("contextmenu", (e) => {
  e.preventDefault();
  const points = currentPoints(store.config, store.dataset);
  const index = nearest(points, ...planeAt(e));
  if (index >= 0 && points.length > 1) { points.splice(index, 1); sendPoints(points, boundaryCanvas); }
});
$("csv-upload").addEventListener("change", async (e) => {
  const file = e.target.files[0];
  e.target.value = "";
  if (!file) return;
  try {
    const points = parseCsv(await file.text());
    csvError(null);
    sendPoints(points, $("csv-upload"));
  } catch (error) {
    csvError(`${file.name}: ${error.message}`);
  }
});
$("csv-download").addEventListener("click", () => {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([toCsv(currentPoints(store.config, store.dataset))], { type: "text/csv" }));
  link.download = "backprop-lab-points.csv";
  link.click();
  URL.revokeObjectURL(link.href);
});

// --- step-through: questions to the server after each state, and "try it yourself" ----------
function afterState(message) {
  if (store.state?.playing) return;
  if (store.pinned) socket.send({ type: "explain", node: store.pinned }, null);
  if (store.batchOpen) socket.send({ type: "batch" }, null);
  const waiting = store.tryIt.waiting;
  if (waiting && message.re === waiting.id) {
    const truth = message.nodes[message.cursor]?.grad_z;
    store.tryIt.waiting = null;
    store.tryIt.verdict = waiting.typed === null || truth === null || truth === undefined ? null
      : { ...judge(waiting.typed, truth), truth, typed: waiting.typed, node: message.cursor };
  }
}

/** With "try it yourself" on, a backward op first asks the learner for the gradient it will reveal. */
function askFirst() {
  const s = store.state;
  if (store.tryIt.on && store.tryIt.question) { $("try-answer").focus(); return true; } // answer (or "Show me") first
  if (!store.tryIt.on || !s?.next || s.next.phase !== "backward" || s.view !== "neuron") return false;
  store.tryIt.question = s.next.node;
  store.tryIt.verdict = null;
  store.dirty = true;
  requestAnimationFrame(() => $("try-answer").focus());
  return true;
}
function answer(typed) {
  const id = socket.send({ type: "step", unit: "op" }, $("step"));
  store.tryIt.waiting = { id, typed };
  store.tryIt.question = null;
  $("try-answer").value = "";
  store.dirty = true;
}
$("try-it").addEventListener("change", (e) => {
  store.tryIt = { on: e.target.checked, waiting: null, verdict: null, question: null };
  store.dirty = true;
});
$("try-box").addEventListener("submit", (e) => { e.preventDefault(); answer($("try-answer").value); });
$("try-skip").addEventListener("click", () => answer(null));

function paintTryIt() {
  const t = store.tryIt;
  const label = (id) => store.graph?.nodes.find((n) => n.id === id)?.label || id;
  $("try-box").hidden = !t.question;
  if (t.question) $("try-question").textContent = `The gradient is about to come back into ${label(t.question)}. What is dL/dz there?`;
  const verdict = $("try-verdict");
  verdict.hidden = !t.verdict;
  if (!t.verdict) return;
  const v = t.verdict;
  const truth = Number(v.truth).toPrecision(4);
  verdict.className = `verdict ${v.ok ? "good" : "bad"}`;
  verdict.textContent = v.ok ? `Right: dL/dz at ${label(v.node)} is ${truth}. The working is below.`
    : v.reason ? `"${v.typed}" is not a number. dL/dz at ${label(v.node)} is ${truth}; the working is below.`
    : `Not quite: you wrote ${v.typed}, but dL/dz at ${label(v.node)} is ${truth} (within 1% counts). The working is below.`;
}

// --- seeds: the history of this page, sweeps and their gallery ------------------------------
const seedKey = `backprop-lab:seeds:${session}`;
try { store.seeds = JSON.parse(sessionStorage.getItem(seedKey)) || []; } catch { store.seeds = []; }
function loadSeed(seed, origin) {
  const final = store.sweep?.final;
  // a sweep's seed is loaded with the config it was swept with, which may since have changed
  if (final && final.results.some((r) => r.weight_seed === seed)) {
    socket.send({ type: "configure", config: { ...final.config, weight_seed: seed } }, origin);
  } else {
    socket.send({ type: "randomize", weight_seed: seed }, origin);
  }
}
$("seed-history").addEventListener("click", (e) => {
  const chip = e.target.closest("button[data-seed]");
  if (chip && token) socket.send({ type: "randomize", weight_seed: +chip.dataset.seed }, chip);
});
$("sweep").addEventListener("click", () => {
  const iterations = parseInt($("sweep-iterations").value, 10);
  if (!Number.isFinite(iterations)) { showFieldError(controls, $("sweep-iterations"), "iterations each needs a whole number"); return; }
  socket.send({ type: "sweep", count: +$("sweep-count").value, iterations }, $("sweep"));
});
$("sweep-cancel").addEventListener("click", () => socket.send({ type: "sweep_cancel" }, $("sweep-cancel")));
$("gallery-toggle").addEventListener("change", (e) => { store.galleryOpen = e.target.checked; store.dirty = true; });
$("gallery").addEventListener("click", (e) => {
  if (e.target.closest(".gallery-close")) { store.galleryOpen = false; store.dirty = true; return; }
  const picked = e.target.closest("button[data-seed]");
  if (!picked || !token) return;
  loadSeed(+picked.dataset.seed, picked);
  store.galleryOpen = false;
  store.dirty = true;
});

/** Panels that are DOM, not canvas: rebuilt only when what they show has changed. */
const drawn = { diagnosis: "", seeds: "", gallery: null, gradChart: "", scene: null };

function paintScene() {
  // this page is one of the connections: "watching" counts the others
  const viewers = Math.max(0, (store.state?.viewers ?? 1) - 1);
  const key = [store.presentation, viewers];
  if (drawn.scene && key.every((v, k) => v === drawn.scene[k])) return;
  drawn.scene = key;
  renderScene(store.presentation, { present, viewers, control: Boolean(token) });
  store.dirty = true; // a panel shown or hidden resizes the canvases
}
function paintStuckRuns() {
  const s = store.state;
  const accuracy = s?.accuracy ?? null;
  const findings = JSON.stringify([s?.diagnostics?.findings ?? null, accuracy !== null && accuracy < 0.9]);
  if (findings !== drawn.diagnosis) {
    drawn.diagnosis = findings;
    renderDiagnosis($("diagnosis"), s?.diagnostics, accuracy);
  }
  const current = store.config?.weight_seed;
  const seeds = JSON.stringify([store.seeds, current]);
  if (seeds !== drawn.seeds) {
    drawn.seeds = seeds;
    renderSeedHistory($("seed-history"), store.seeds, current, !token);
    $("seed-history-hint").hidden = store.seeds.length < 2;
    sessionStorage.setItem(seedKey, JSON.stringify(store.seeds));
  }
  const sweep = store.sweep;
  const running = Boolean(sweep && !sweep.final);
  $("sweep-status").hidden = !running;
  $("sweep").disabled = !token || running;
  if (running) $("sweep-progress").value = sweep.total ? sweep.done / sweep.total : 0;
  $("sweep-cancel").disabled = !token || Boolean(sweep?.cancelling);
  $("gallery-toggle").checked = store.galleryOpen;
  $("gallery").hidden = !store.galleryOpen;
  const key = [sweep, current, store.galleryOpen];
  if (store.galleryOpen && (drawn.gallery === null || key.some((v, k) => v !== drawn.gallery[k]))) {
    drawn.gallery = key;
    renderGallery($("gallery"), sweep, current, !token);
  }
}

// --- presets ------------------------------------------------------------------------------------
fetch("/api/presets").then((r) => r.json()).then((presets) => {
  for (const p of presets) $("preset").append(new Option(p.title, p.id));
  $("preset").addEventListener("change", (e) => {
    const chosen = presets.find((p) => p.id === e.target.value);
    $("preset-description").hidden = !chosen;
    $("preset-description").textContent = !chosen ? "" : chosen.description
      + (chosen.iterations ? ` It shows within ${chosen.iterations} iterations: press play.` : "");
    if (chosen && token) socket.send({ type: "configure", config: chosen.config }, e.target);
  });
}).catch(() => {}); // the menu simply stays empty if the list cannot be read

// --- painting ---------------------------------------------------------------------------------
function showBanner(text) {
  const banner = $("banner");
  banner.hidden = !text;
  banner.textContent = text || "";
}

function paintText() {
  const s = store.state;
  $("connection").textContent = { open: store.role === "control" ? "live · control" : "live · view only",
    down: "server unreachable — reconnecting…", gone: "session ended", connecting: "connecting…" }[store.connection];
  $("connection").classList.toggle("down", store.connection !== "open");
  if (!s) return;
  $("iteration").textContent = s.iteration;
  $("epoch").textContent = s.epoch;
  $("phase").textContent = s.phase;
  $("phase").className = `phase ${s.phase}`;
  const show = (v, pct) => (v === null || v === undefined ? "–" : pct ? `${(v * 100).toFixed(1)}%`
    : Math.abs(v) >= 1e4 ? v.toExponential(2).replace("e+", "e") : v.toFixed(3)); // a diverging loss stays in its box
  $("loss").textContent = show(s.loss); $("test-loss").textContent = show(s.test_loss);
  $("accuracy").textContent = show(s.accuracy, true); $("test-accuracy").textContent = show(s.test_accuracy, true);
  $("back").disabled = !token || !s.can_back || s.playing;
  $("play").textContent = s.playing ? "⏸" : "▶";
  $("play").setAttribute("aria-label", s.playing ? "Pause" : "Play");
  if (s.status === "diverged") {
    showBanner(`The run diverged at iteration ${s.diverged_at}: a weight or gradient became infinite. `
      + "Lower the learning rate, then re-randomize.");
  } else if (store.connection !== "gone") {
    showBanner(null);
  }
}

function paint() {
  if (store.dirty) {
    store.dirty = false;
    const key = `${graphCanvas.clientWidth}x${graphCanvas.clientHeight}`;
    if (store.graph && (key !== layoutKey || store.graph !== laidOut)) {
      layout = layoutGraph(store.graph, graphCanvas.clientWidth, graphCanvas.clientHeight);
      layoutKey = key;
      laidOut = store.graph;
    }
    const start = performance.now();
    drawGraph(graphCanvas, store, layout, start);
    drawLegend($("legend"), store);
    drawBoundary($("boundary"), store);
    drawChart($("chart"), store);
    // the gradient chart only changes with a new point or a new size: most frames skip it
    const g = store.gradHistory, gradKey = `${g.length}:${g.at(-1)?.iteration}:${g.at(-1)?.norms}:${$("grad-chart").clientWidth}x${$("grad-chart").clientHeight}`;
    if (gradKey !== drawn.gradChart) { drawn.gradChart = gradKey; drawGradChart($("grad-chart"), store); }
    paintText();
    paintStuckRuns();
    paintScene();
    renderInspector($("inspector"), store);
    renderVerify($("verify-result"), store.verify);
    paintTryIt();
    $("batch-panel").hidden = !store.batchOpen;
    if (store.batchOpen && $("batch-panel").dataset.seq !== String(store.batch?.re ?? "none")) {
      $("batch-panel").dataset.seq = String(store.batch?.re ?? "none");
      renderBatch($("batch-panel"), store.batch);
    }
    window.__paintMs = performance.now() - start;
    if (store.state && store.grid && store.grid.seq === store.state.seq && store.drawnSeq !== store.state.seq) {
      store.drawnSeq = store.state.seq;
      socket.ack(store.state.seq);
    }
  }
  if (performance.now() < store.animateUntil) store.dirty = true; // the dashes along the flowing edges march
  requestAnimationFrame(paint);
}
window.addEventListener("resize", () => { store.dirty = true; });
window.__backprop = store; // for the browser tests and the paint benchmark
requestAnimationFrame(paint);
