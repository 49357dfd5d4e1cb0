// The neuron view's geometry: one column per layer, the loss node last, and where each label
// may go. Positions depend only on the graph and the canvas size, never on the numbers, so
// stepping never moves a node. Labels are boxes placed greedily by priority: the cursor's,
// the pinned and the hovered node's values always win, and a label that would touch a node or
// another label is dropped instead of drawn on top of it.
import { overlaps } from "./canvas.js";

/** Label priorities: higher is placed first and so always shown. */
export const PRIORITY = { cursor: 100, pinned: 90, hover: 80, name: 60, value: 40, unitName: 20 };

/** Node positions for a width × height canvas. `k` is the presenter's ink (labels are larger). */
export function layoutGraph(graph, width, height, k = 1) {
  const columns = new Map();
  for (const node of graph.nodes) {
    if (!columns.has(node.layer)) columns.set(node.layer, []);
    columns.get(node.layer).push(node);
  }
  const layers = [...columns.keys()].sort((a, b) => a - b);
  const tallest = Math.max(...layers.map((l) => columns.get(l).length));
  const fontSize = Math.round(12 * k);
  // room on the left for the inputs' names (sin(x1) is the longest) and on the right for the loss's value
  const margin = { left: 12 + 4.2 * fontSize, right: 10 + 2.4 * fontSize, top: 8 + 1.6 * fontSize, bottom: 6 + 1.6 * fontSize };
  const innerW = Math.max(40, width - margin.left - margin.right);
  const innerH = Math.max(40, height - margin.top - margin.bottom);
  const gap = innerH / Math.max(tallest, 1);
  const step = layers.length > 1 ? innerW / (layers.length - 1) : 0;
  const size = Math.max(14, Math.min(56 * Math.min(k, 1.3), gap * 0.7, step > 0 ? step / 2.4 : 56));
  const half = size / 2;
  const positions = new Map();
  layers.forEach((layer, col) => {
    const nodes = columns.get(layer);
    const rowGap = Math.min(gap, Math.max(size * 2.2, gap)); // short layers spread no further than the tallest
    const span = rowGap * (nodes.length - 1);
    const top = margin.top + half + (innerH - size - span) / 2;
    nodes.forEach((node, row) => {
      positions.set(node.id, { x: margin.left + half + col * (step - size / Math.max(1, layers.length - 1)), y: top + row * rowGap, node });
    });
  });
  const boxes = [...positions.values()].map((p) => ({ id: p.node.id, x: p.x - half, y: p.y - half, w: size, h: size }));
  // a value must fit between two columns when it cannot go above or below: in a crowded network
  // the numbers get a smaller (never tiny) type rather than no room ("−0.000" is about 4 ems wide)
  const columnGap = layers.length > 1 ? (innerW - size) / (layers.length - 1) - size - 8 : innerW;
  const roomBelow = gap - size >= fontSize + 6;
  const valueSize = roomBelow ? fontSize : Math.max(10, Math.min(fontSize, Math.floor((columnGap - 4) / 4.1)));
  return { view: "neuron", positions, size, layers, fontSize, valueSize, width, height, boxes,
    bounds: { x: 0, y: 0, w: width, h: height } };
}

// Where a label may sit around its node, in order of preference.
function candidates(kind, p, half, w, h) {
  const below = { x: p.x - w / 2, y: p.y + half + 2, w, h };
  const above = { x: p.x - w / 2, y: p.y - half - 2 - h, w, h };
  const right = { x: p.x + half + 3, y: p.y - h / 2, w, h };
  const left = { x: p.x - half - 3 - w, y: p.y - h / 2, w, h };
  if (kind === "input") return [left, above];
  if (kind === "name") return [above, right, left];
  return [below, right, above, left];
}

function bands(layout, p, w, h) {
  const x = Math.max(0, Math.min(layout.width - w, p.x - w / 2));
  return [{ x, y: 1, w, h, leader: true }, { x, y: layout.height - h - 1, w, h, leader: true }];
}

const inside = (box, layout) => box.x >= 0 && box.y >= 0 && box.x + box.w <= layout.width && box.y + box.h <= layout.height;

/**
 * The labels to draw, as plain boxes: [{owner, kind: "name"|"value", text?, box, priority}].
 * `focus` = {cursor, pinned, hover}; `hasValue(id)` says whether a node has a value to show;
 * `measure(text, size)` is the text's width at that font size. Values get a box of one fixed
 * width, so the placement holds still while the numbers change.
 * Within a layer either every value fits or only the cursor's, pinned and hovered ones show.
 */
export function placeNeuronLabels(layout, graph, focus, hasValue, measure) {
  const half = layout.size / 2;
  const h = layout.fontSize + 4, valueH = layout.valueSize + 4;
  // room for the formatter's usual widest number; a rarer, longer one is squeezed into it when drawn
  const valueWidth = measure("−0.000", layout.valueSize) + 4;
  const wanted = [];
  for (const node of graph.nodes) {
    const p = layout.positions.get(node.id);
    if (!p) continue;
    const special = node.id === focus.cursor ? PRIORITY.cursor : node.id === focus.pinned ? PRIORITY.pinned
      : node.id === focus.hover ? PRIORITY.hover : 0;
    if (node.kind !== "neuron") {
      const kind = node.kind === "input" ? "input" : "name";
      wanted.push({ owner: node.id, kind: "name", text: node.label, layer: node.layer, priority: PRIORITY.name,
        size: layout.fontSize, options: candidates(kind, p, half, measure(node.label, layout.fontSize) + 4, h) });
    }
    if (hasValue(node.id)) {
      const options = candidates("value", p, half, valueWidth, valueH);
      // where no neighbouring spot is free, the cursor's, pinned and hovered values go to the free
      // band above (or below) the graph, over their node's column, with a leader line to it
      if (special) options.push(...bands(layout, p, valueWidth, valueH));
      wanted.push({ owner: node.id, kind: "value", layer: node.layer, priority: special || PRIORITY.value, special: Boolean(special),
        size: layout.valueSize, options });
    }
  }
  const attempt = (labels) => {
    const kept = [];
    for (const label of [...labels].sort((a, b) => b.priority - a.priority)) {
      const box = label.options.find((b) => inside(b, layout)
        && !layout.boxes.some((o) => o.id !== label.owner && overlaps(b, o))
        && !kept.some((k) => overlaps(b, k.box)));
      if (box) kept.push({ ...label, box });
    }
    return kept;
  };
  let kept = attempt(wanted);
  // a layer whose values do not all fit shows none but the special ones: a half-labelled layer
  // would read as if the missing units had no value
  const keptIds = new Set(kept.filter((l) => l.kind === "value").map((l) => l.owner));
  const crowded = new Set(wanted.filter((l) => l.kind === "value" && !l.special && !keptIds.has(l.owner)).map((l) => l.layer));
  if (crowded.size) kept = attempt(wanted.filter((l) => !(l.kind === "value" && !l.special && crowded.has(l.layer))));
  return kept.map(({ owner, kind, text, box, priority, size }) => ({ owner, kind, text, box, priority, size }));
}

/** The node under (x, y) in layout coordinates, or the edge within a few pixels of it, or null. */
export function hitTest(layout, graph, x, y, slop = 0) {
  const half = layout.size / 2 + slop;
  for (const [id, p] of layout.positions) {
    if (Math.abs(x - p.x) <= half && Math.abs(y - p.y) <= half) return { kind: "node", id };
  }
  let best = null;
  for (const edge of graph.edges) {
    const a = layout.positions.get(edge.src), b = layout.positions.get(edge.dst);
    if (!a || !b) continue;
    const d = distanceToCurve(a, b, layout.size / 2, x, y);
    if (d < 5 && (!best || d < best.d)) best = { kind: "edge", id: edge.id, d };
  }
  return best;
}

export function edgeCurve(a, b, half) {
  const x0 = a.x + half, x1 = b.x - half, mid = (x0 + x1) / 2;
  return [x0, a.y, mid, a.y, mid, b.y, x1, b.y];
}

function distanceToCurve(a, b, half, x, y) {
  const [x0, y0, c1x, c1y, c2x, c2y, x1, y1] = edgeCurve(a, b, half);
  let best = Infinity;
  for (let i = 0; i <= 24; i++) {
    const t = i / 24, u = 1 - t;
    const px = u * u * u * x0 + 3 * u * u * t * c1x + 3 * u * t * t * c2x + t * t * t * x1;
    const py = u * u * u * y0 + 3 * u * u * t * c1y + 3 * u * t * t * c2y + t * t * t * y1;
    best = Math.min(best, Math.hypot(px - x, py - y));
  }
  return best;
}

