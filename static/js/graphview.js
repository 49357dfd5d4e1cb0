// The network panel: the graph canvas (neuron or gate view) with zoom and pan, hover and tap,
// the colour legend, and the view and colouring switches. Layouts depend on the graph and the
// canvas size (and, in the gate view, the unit in focus), never on the numbers: stepping does
// not move anything but the cursor.
import { fitCanvas, font, ink } from "./canvas.js";
import { precise } from "./format.js";
import { drawGateView, gateFocus, hitTestGateView, layoutGateView } from "./gateview.js";
import { hitTest, layoutGraph, placeNeuronLabels } from "./layout.js";
import { drawLegend, drawNeuronGraph, legendWords, valueText } from "./render.js";
import { set, touch } from "./store.js";
import { bindViewport, createViewport, fitTransform, resetViewport, toWorld } from "./viewport.js";

const $ = (id) => document.getElementById(id);
const READABLE = 0.75; // below this zoom the gate view's labels are too small to read

export function bindGraph({ store, socket, token, showError }) {
  const canvas = $("graph");
  const tooltip = $("tooltip");
  const view = createViewport();
  let layout = null, layoutKey = "", sizeKey = "";
  let labels = [], labelKey = "";
  const measureCtx = document.createElement("canvas").getContext("2d");

  /** The layout for the current graph, size and focus; rebuilt only when one of them changes. */
  function currentLayout() {
    const { graph } = store;
    if (!graph) return null;
    const w = canvas.clientWidth, h = canvas.clientHeight, k = ink(store);
    const focus = graph.view === "gate" ? gateFocus(graph, store.state, store.pinned) : [];
    const size = `${graph.view}|${w}x${h}|${k}`, key = `${size}|${focus.join(",")}`;
    if (layout && key === layoutKey && layout.graph === graph) return layout;
    const sized = size === sizeKey && layout?.graph === graph; // only the focus moved
    layout = graph.view === "gate" ? layoutGateView(graph, focus, w, h, { scale: k }) : layoutGraph(graph, w, h, k);
    layout.graph = graph;
    layoutKey = key;
    sizeKey = size;
    labelKey = "";
    // a new graph or size starts fitted; a new focus keeps the learner's zoom
    if (!sized || !view.user) resetViewport(view, fitted());
    return layout;
  }

  /** The neuron view's labels for this focus and these values, placed once per change. */
  function currentLabels() {
    const s = store.state;
    const have = s?.nodes ? Object.keys(s.nodes).filter((id) => s.nodes[id]?.a !== null && s.nodes[id]?.a !== undefined) : [];
    const key = `${layoutKey}|${s?.cursor}|${store.pinned}|${store.hover?.id}|${have.length}|${store.presenting}`;
    if (key === labelKey) return labels;
    labelKey = key;
    const widths = new Map();
    const measure = (text, size) => {
      const key = `${size}|${text}`;
      if (!widths.has(key)) { measureCtx.font = font(size, "600"); widths.set(key, measureCtx.measureText(text).width); }
      return widths.get(key);
    };
    const present = new Set(have);
    labels = placeNeuronLabels(layout, store.graph, { cursor: s?.cursor, pinned: store.pinned, hover: store.hover?.id },
      (id) => present.has(id), measure);
    return labels;
  }

  function hitAt(x, y, slop) {
    if (!layout) return null;
    const p = toWorld(view, x, y);
    return layout.view === "gate" ? hitTestGateView(layout, p.x, p.y) : hitTest(layout, store.graph, p.x, p.y, slop / view.k);
  }

  // --- what a node or edge says when pointed at --------------------------------------------
  function describe(hit) {
    const { state, graph } = store;
    if (hit.id.startsWith("unit:")) return `${hit.id.slice(5)}: its gates are folded\n(click to unfold them)`;
    const node = graph.nodes.find((n) => n.id === hit.id);
    if (hit.kind === "node" && graph.view === "gate") {
      const v = state?.nodes?.[hit.id] || {};
      const what = node.kind === "gate" ? `${node.label} (gate ${node.op}, part of ${node.of})\n${node.rule}` : `${node.label} (${node.kind})`;
      return `${what}\nvalue  = ${precise(v.a)}\ndL/d·  = ${precise(v.grad_a)}\n(click to explain)`;
    }
    if (hit.kind === "node") {
      const v = state?.nodes?.[hit.id] || {};
      return `${node.label} (${node.kind})\nz      = ${precise(v.z)}\na      = ${precise(v.a)}\ndL/dz  = ${precise(v.grad_z)}\ndL/da  = ${precise(v.grad_a)}\n(click to pin its explanation)`;
    }
    const edge = graph.edges.find((e) => e.id === hit.id);
    if (!edge.param) return `${edge.src} → loss`;
    const w = state?.params?.[edge.param]?.[edge.i]?.[edge.j];
    const g = state?.grads?.[edge.param]?.[edge.i]?.[edge.j];
    return `${edge.id}\nw      = ${precise(w)}\ndL/dw  = ${precise(g)}${token ? "\n(click to set w)" : ""}`;
  }

  function showTooltip(hit, clientX, clientY) {
    if (!hit) { tooltip.hidden = true; return; }
    tooltip.textContent = describe(hit);
    tooltip.hidden = false;
    const x = Math.min(clientX + 14, window.innerWidth - tooltip.offsetWidth - 8);
    tooltip.style.left = `${Math.max(4, x)}px`;
    tooltip.style.top = `${clientY + 14}px`;
  }

  /** A click or tap on a node pins it (the inspector explains it); again unpins. An edge asks for a weight. */
  function pick(hit) {
    if (!hit || hit.kind === "node") {
      set(store, "pinned", hit && store.pinned !== hit.id ? hit.id : null);
      if (store.pinned && !store.pinned.startsWith("unit:")) socket.send({ type: "explain", node: store.pinned }, null);
      return;
    }
    if (!token || store.graph.view === "gate") return;
    const edge = store.graph.edges.find((e) => e.id === hit.id);
    if (!edge?.param) return;
    const current = store.state.params[edge.param];
    const typed = prompt(`New value for ${edge.id}`, current[edge.i][edge.j]);
    if (typed === null) return;
    const value = Number(typed.replace("−", "-"));
    if (!Number.isFinite(value)) { showError(`${edge.id}: "${typed}" is not a number`); return; }
    const next = current.map((row) => row.slice());
    next[edge.i][edge.j] = value;
    socket.send({ type: "set_params", params: { [edge.param]: next } }, null);
  }

  bindViewport(canvas, view, {
    onChange: () => { canvas.style.touchAction = view.k > 1.01 ? "none" : "pan-y"; touch(store); },
    onHover: (x, y, e) => {
      const hit = hitAt(x, y, 0);
      if ((hit?.id || null) !== (store.hover?.id || null)) set(store, "hover", hit);
      showTooltip(hit, e.clientX, e.clientY);
    },
    onLeave: () => { tooltip.hidden = true; set(store, "hover", null); },
    // a finger is wider than a mouse: a tap reaches a little past a node's edge
    onTap: (x, y, e) => { tooltip.hidden = true; pick(hitAt(x, y, e.pointerType === "touch" ? 10 : 0)); },
    onReset: () => fit(),
  });
  /** The whole drawing in view: the neuron layout already fits its canvas; the gate view may need
   * shrinking, and where the whole would be too small to read (a phone) the unfolded units fill the
   * canvas instead and the folded rest is a pan or a pinch away. */
  function fitted() {
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (layout.view !== "gate") return fitTransform(layout.bounds, w, h, 0);
    const whole = fitTransform(layout.bounds, w, h, 8);
    if (whole.k >= READABLE || !layout.groups.length) return whole;
    const x0 = Math.min(...layout.groups.map((g) => g.x)), y0 = Math.min(...layout.groups.map((g) => g.y));
    const x1 = Math.max(...layout.groups.map((g) => g.x + g.w)), y1 = Math.max(...layout.groups.map((g) => g.y + g.h));
    return fitTransform({ x: x0, y: y0, w: x1 - x0, h: y1 - y0 }, w, h, 4);
  }
  function fit() {
    if (layout) resetViewport(view, fitted());
    canvas.style.touchAction = "pan-y";
    touch(store);
  }
  $("zoom-reset").addEventListener("click", fit);

  // --- switches --------------------------------------------------------------------------------
  for (const radio of document.querySelectorAll('input[name="view"]')) {
    radio.addEventListener("change", () => socket.send({ type: "view", view: radio.value }, radio));
  }
  for (const radio of document.querySelectorAll('input[name="mode"]')) {
    radio.addEventListener("change", () => set(store, "mode", radio.value));
  }
  socket.listen((message) => {
    if (message.type !== "graph") return;
    for (const radio of document.querySelectorAll('input[name="view"]')) radio.checked = radio.value === message.view;
    if (store.pinned && !store.pinned.startsWith("unit:") && !message.nodes.some((n) => n.id === store.pinned)) set(store, "pinned", null);
  });

  function toggleView() {
    const next = store.graph?.view === "gate" ? "neuron" : "gate";
    socket.send({ type: "view", view: next }, document.querySelector(`input[name="view"][value="${next}"]`));
  }

  const legendText = $("legend-words");
  return {
    toggleView,
    /** Where a node is on the page (client pixels), for the guide. */
    locate(id) {
      const p = layout?.positions?.get(id) || layout?.nodes?.get(id);
      if (!p) return null;
      const rect = canvas.getBoundingClientRect();
      const half = ((layout.size ?? Math.max(p.w, p.h)) / 2) * view.k;
      return { x: rect.left + p.x * view.k + view.tx, y: rect.top + p.y * view.k + view.ty, half };
    },
    /** The box (client pixels) around a node and the labels drawn for it (its name, its value):
     * what the guide rings, so the words it points at are not covered by the ring. */
    outline(id) {
      const spot = this.locate(id);
      if (!spot) return null;
      const rect = canvas.getBoundingClientRect();
      let left = spot.x - spot.half, top = spot.y - spot.half, right = spot.x + spot.half, bottom = spot.y + spot.half;
      const drawn = (layout?.view === "gate" ? layout.labels : labels) || [];
      for (const label of drawn) {
        if (label.owner !== id) continue;
        const box = label.box || label; // the neuron view's labels keep their box apart, the gate view's are one
        const x = rect.left + box.x * view.k + view.tx, y = rect.top + box.y * view.k + view.ty;
        left = Math.min(left, x); top = Math.min(top, y);
        right = Math.max(right, x + box.w * view.k); bottom = Math.max(bottom, y + box.h * view.k);
      }
      return { left, top, right, bottom };
    },
    /** The labels drawn in the last frame, as plain boxes (for tests). */
    drawnLabels: () => (layout?.view === "gate" ? layout.labels : labels),
    nodeBoxes: () => (layout?.view === "gate" ? [...layout.nodes.values()].map(({ id, x, y, w, h }) => ({ id, x: x - w / 2, y: y - h / 2, w, h })) : layout?.boxes || []),
    /** The number a node's value label says now. */
    valueText: (id) => valueText(store, id),
    paint(now) {
      const { ctx, width, height } = fitCanvas(canvas);
      ctx.clearRect(0, 0, width, height);
      if (currentLayout()) {
        const ratio = window.devicePixelRatio || 1;
        ctx.setTransform(ratio * view.k, 0, 0, ratio * view.k, ratio * view.tx, ratio * view.ty);
        if (layout.view === "gate") drawGateView(ctx, layout, store, now);
        else drawNeuronGraph(ctx, store, layout, currentLabels(), now);
      }
      drawLegend($("legend"), store);
      const words = legendWords(store);
      if (legendText.textContent !== words) { legendText.textContent = words; legendText.title = words; }
      for (const radio of document.querySelectorAll('input[name="mode"]')) radio.checked = radio.value === store.mode;
    },
  };
}
