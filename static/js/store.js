// The one state store. The socket writes into it; renderers only read it. `dirty` tells the
// animation loop that something changed since the last paint.
const HISTORY_LIMIT = 1500;

export function createStore() {
  return {
    role: "view", hello: null, graph: null, state: null, config: null, dataset: null, grid: null,
    history: [], mode: "activation", hover: null, connection: "connecting", error: null,
    lastSeq: -1, drawnSeq: -1, dirty: true,
    // the step-through: a clicked node's explanation, the last verify and batch answers
    pinned: null, explained: null, verify: null, batch: null, batchOpen: false,
    tryIt: { on: false, waiting: null, verdict: null }, animateUntil: 0,
  };
}

function remember(store, state) {
  const h = store.history;
  if (h.length && state.iteration < h[h.length - 1].iteration) h.length = 0; // the run was reset
  if (h.length && h[h.length - 1].iteration === state.iteration) return;
  h.push({ iteration: state.iteration, loss: state.loss, test: state.test_loss });
  if (h.length > HISTORY_LIMIT) {
    // keep the whole run's shape: drop every other point of the older half
    const half = h.length >> 1;
    store.history = h.filter((_, i) => i >= half || i % 2 === 0);
  }
}

/** Apply one server message. */
export function applyMessage(store, message) {
  switch (message.type) {
    case "hello": store.hello = message; store.role = message.role; break;
    case "graph": store.graph = message; break;
    case "state":
      if (message.cursor !== store.state?.cursor || message.seq === undefined) store.animateUntil = performance.now() + 2400;
      store.state = message;
      store.lastSeq = message.seq;
      remember(store, message);
      break;
    case "config": store.config = message.config; break;
    case "dataset": store.dataset = message; break;
    case "error": store.error = message; break;
    case "explain": store.explained = message; break;
    case "verify": store.verify = message; break;
    case "batch": store.batch = message; break;
    default: return;
  }
  store.dirty = true;
}

export function applyGrid(store, grid) {
  store.grid = grid;
  store.dirty = true;
}
