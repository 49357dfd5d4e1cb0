// The one state store. The socket writes into it through `applyMessage`; the page's own choices
// (hover, pin, colouring, open panels) go through the small setters below. Every change marks
// the store dirty itself, so the animation loop repaints exactly when something changed.
// Renderers only read it.
const HISTORY_LIMIT = 1500;
const SEED_LIMIT = 12;

export function createStore() {
  return {
    role: "view", hello: null, graph: null, state: null, config: null, dataset: null, grid: null,
    history: [], mode: "auto", hover: null, connection: "connecting",
    // why the session ended, if the server said (its process stopped), and the last save made here
    goneReason: null, lastSaved: null,
    drawnSeq: -1, dirty: true,
    // the step-through: a clicked node's explanation, the last verify and batch answers
    pinned: null, explained: null, verify: null, verifyFor: null, batch: null, batchOpen: false,
    predicting: false, animateUntil: 0,
    // stuck runs: each layer's gradient norm over iterations, the seeds tried, the last sweep
    gradHistory: [], seeds: [], sweep: null, galleryOpen: false, gallerySort: "verdict", galleryFilter: "all",
    // classroom: how the session is shown (title, notes, hidden panels, lesson step); a projector?
    presentation: null, presenting: false,
    // the page: is a drawer or the guide open; are clicks on the boundary adding points
    drawerOpen: false, adding: false,
    // a curve fit: draw each unit's piece of the output's sum beside the fit
    showPieces: false,
    // custom data started empty (or cleared): the page holds no points till the first click sends one
    emptyCustom: false,
    // predict, then reveal: the question asked (open or just closed), the room's tally (controllers
    // only), the reveal with this page's own verdict, and the answer this page sent
    question: null, tally: null, reveal: null, myAnswer: null, lessons: [],
  };
}

/** Mark the store changed: the next animation frame repaints. */
export function touch(store) {
  store.dirty = true;
}

/** Set one page-side field (hover, pinned, mode, batchOpen, galleryOpen, adding, drawerOpen, ...). */
export function set(store, field, value) {
  if (store[field] === value) return;
  store[field] = value;
  store.dirty = true;
}

/** What the graph is coloured by now. "auto" follows the pass: while the gradient flows back
 * the learner sees gradients (dL/dz on nodes, dL/dw on edges), otherwise values. */
export function colouring(store) {
  if (store.mode !== "auto") return store.mode;
  const s = store.state;
  return s && !s.playing && s.phase === "backward" ? "gradient" : "activation";
}

function remember(store, state) {
  const h = store.history;
  if (h.length && state.iteration < h[h.length - 1].iteration) h.length = 0; // the run was reset
  if (h.length && h[h.length - 1].iteration === state.iteration) return;
  h.push({ iteration: state.iteration, loss: state.loss, test: state.test_loss });
  store.history = thinned(h);
  const g = store.gradHistory;
  if (g.length && state.iteration < g[g.length - 1].iteration) g.length = 0;
  if (state.diagnostics && !(g.length && g[g.length - 1].iteration === state.iteration)) {
    g.push({ iteration: state.iteration, norms: state.diagnostics.layer_norms });
    store.gradHistory = thinned(g);
  }
}

/** Keep the whole run's shape within the limit: drop every other point of the older half. */
function thinned(h) {
  if (h.length <= HISTORY_LIMIT) return h;
  const half = h.length >> 1;
  return h.filter((_, i) => i >= half || i % 2 === 0);
}

/** The weight seeds this page has run, newest first, each with the best it reached. */
function rememberSeed(store, config, state) {
  if (!config) return;
  const seed = config.weight_seed;
  let entry = store.seeds.find((e) => e.seed === seed);
  if (!entry) {
    entry = { seed, accuracy: null, r2: null, iteration: 0, status: "ok" };
    store.seeds = [entry, ...store.seeds].slice(0, SEED_LIMIT);
  }
  if (state && state.weight_seed === seed) {
    entry.iteration = Math.max(entry.iteration, state.iteration);
    if (state.accuracy !== null) entry.accuracy = state.accuracy;
    if (state.r2 !== null && state.r2 !== undefined) entry.r2 = state.r2; // a regression's score
    entry.status = state.status;
  }
}

function applySweep(store, message) {
  if (message.type === "sweep_progress") {
    const mine = store.sweep?.id === message.sweep ? store.sweep : null;
    const sweep = mine || { id: message.sweep, total: message.total, seeds: message.seeds || [], results: [],
      final: null, thumbnails: null, cancelling: false };
    if (message.result) sweep.results = [...sweep.results, message.result];
    if (message.cancelling) sweep.cancelling = true;
    sweep.done = message.done;
    store.sweep = sweep;
    if (!mine) store.galleryOpen = true;
  } else {
    store.sweep = { ...(store.sweep?.id === message.sweep ? store.sweep : {}), id: message.sweep, total: message.total,
      done: message.results.length, results: message.results, final: message, thumbnails: null };
  }
}

/** The point of the run a verify answer holds for: where the cursor is and the parameters it
 * checked. A verify is only true of exactly this point; any step, reset, new seed or edited weight
 * makes it a claim about a run that no longer exists, so it must not stay on screen beside it. */
function runPoint(state) {
  return state ? JSON.stringify([state.iteration, state.phase, state.cursor, state.weight_seed, state.params]) : "";
}

function applyVerify(store, message) {
  // answered for an iteration the page has already left: nothing on screen is what it checked
  const current = store.state && message.iteration === store.state.iteration;
  store.verify = current ? message : null;
  store.verifyFor = current ? runPoint(store.state) : null;
}

/** Apply one server message. */
export function applyMessage(store, message) {
  switch (message.type) {
    case "hello": store.hello = message; store.role = message.role; break;
    case "graph": store.graph = message; break;
    case "state":
      if (message.cursor !== store.state?.cursor || message.seq === undefined) store.animateUntil = performance.now() + 2400;
      store.state = message;
      if (store.verify && runPoint(message) !== store.verifyFor) { store.verify = null; store.verifyFor = null; }
      remember(store, message);
      rememberSeed(store, store.config, message);
      break;
    case "config":
      // a new config is a new run (or new data): an earlier verify says nothing about it
      store.verify = null; store.verifyFor = null;
      // the first point sent (or other data chosen) ends an empty custom set; a change to anything
      // else (the learning rate, say) leaves the page waiting for its first point
      if (JSON.stringify(message.config.dataset) !== JSON.stringify(store.config?.dataset)) store.emptyCustom = false;
      store.config = message.config; rememberSeed(store, message.config, null); break;
    case "sweep_progress": case "sweep": applySweep(store, message); break;
    case "dataset": store.dataset = message; break;
    case "presentation": store.presentation = message; break;
    case "explain": store.explained = message; break;
    case "verify": applyVerify(store, message); break;
    case "batch": store.batch = message; break;
    case "question":
      if (message.open && message.id !== store.question?.id) { store.tally = null; store.reveal = null; store.myAnswer = null; }
      store.question = message; break;
    case "tally": if (message.question === store.question?.id) store.tally = message; break;
    case "reveal": // the reveal closes the question
      if (message.question === store.question?.id) { store.reveal = message; store.question = { ...store.question, open: false }; }
      break;
    default: return;
  }
  store.dirty = true;
}

export function applyGrid(store, grid) {
  store.grid = grid;
  store.dirty = true;
}

/** A sweep's thumbnails frame belongs to the sweep message just before it. */
export function applyThumbnails(store, thumbnails) {
  if (store.sweep?.id !== thumbnails.sweep) return;
  store.sweep = { ...store.sweep, thumbnails };
  store.dirty = true;
}
