// The gate view as focus + context. Drawn whole, one example's gates are a hairball (107 at
// 2-4-4-1, 450+ at the larger shapes); a learner only ever reads one unit's gates at a time.
// So the unit the cursor is in (and a pinned one) is unfolded into its gates with readable
// labels, and every other unit is folded into one small box, laid out as the neuron view's
// columns so the picture still reads as "the network". Folding comes first, so only the few
// visible things are laid out: moving the cursor to another unit costs about a millisecond,
// even at 450 gates.
//
// The layout is plain data computed once per graph, size and focus. Every label the view will
// draw is a box in it, placed so that no two touch and none covers a node but its own; values
// change every frame but the layout does not, so each value's box is reserved wide enough for
// the widest text `short` can write.
import { font, roundRect } from "./canvas.js";
import { css, DEAD_GREY, diverging, SATURATED, signedUnit } from "./colors.js";
import { short } from "./format.js";
import { colouring } from "./store.js";

const FOLD = "unit:";
const CURSOR = "#f2c230";
const INK = "#1d2330";
// The widest texts `short` writes but for 3-digit exponents (|v| < 1e-99, > 1e100: drawn squeezed
// into the same box by fillText's maxWidth rather than widening every box for them). Asked of
// `short` itself, so a change of format cannot outgrow the boxes.
const WIDEST_VALUES = [-8888.88, -8.8e-88, -8.8e88, NaN].map(short);

// --- the graph, indexed once --------------------------------------------------------------------

const infoCache = new WeakMap();

/** Everything about a graph that does not depend on the focus, computed once per graph. */
function graphInfo(graph) {
  let info = infoCache.get(graph);
  if (info) return info;
  const byId = new Map(), order = new Map(), parents = new Map(), children = new Map();
  graph.nodes.forEach((n, k) => { byId.set(n.id, n); order.set(n.id, k); parents.set(n.id, []); children.set(n.id, []); });
  for (const e of graph.edges) {
    if (!byId.has(e.src) || !byId.has(e.dst)) continue;
    parents.get(e.dst).push(e.src);
    children.get(e.src).push(e.dst);
  }
  // A unit is what one fold box stands for. The raw inputs are always drawn as themselves: they
  // are what every unit is computed from, and folding one leaf would hide nothing.
  const members = new Map();
  for (const n of graph.nodes) {
    if (n.kind === "input" || !n.of) continue;
    if (!members.has(n.of)) members.set(n.of, []);
    members.get(n.of).push(n);
  }
  let hiddenDepth = 0;
  for (const unit of members.keys()) {
    const m = /^h(\d+)_/.exec(unit);
    if (m) hiddenDepth = Math.max(hiddenDepth, Number(m[1]));
  }
  const units = new Map();
  for (const [unit, nodes] of members) {
    const named = nodes.find((n) => n.role === "z") || nodes.find((n) => n.role === "a") || nodes.find((n) => n.role === "loss");
    // a unit's value is what it hands on: its a, else its z (linear units, features), the loss
    const shown = nodes.find((n) => n.role === "a") || nodes.find((n) => n.role === "loss") || named || nodes[nodes.length - 1];
    units.set(unit, {
      id: unit, nodes, label: named ? named.label.replace(/^[za] /, "") : unit, valueId: shown.id,
      band: bandOf(unit, nodes.some((n) => n.kind === "gate"), hiddenDepth), rank: rankOf(unit), first: order.get(nodes[0].id),
    });
  }
  const firstHidden = [...units.keys()].find((u) => /^h\d+_\d+$/.test(u))
    || [...units.values()].find((u) => u.nodes.some((n) => n.kind === "gate"))?.id || null;
  const lossIds = new Set(graph.nodes.filter((n) => n.role === "loss").map((n) => n.id));
  info = { byId, order, parents, children, units, firstHidden, lossIds };
  infoCache.set(graph, info);
  return info;
}

/** The neuron view's column a unit sits in: raw inputs, computed features, hidden layers, outputs, loss. */
function bandOf(unit, hasGates, hiddenDepth) {
  if (/^in\d+$/.test(unit)) return hasGates ? 1 : 0;
  const h = /^h(\d+)_\d+$/.exec(unit);
  if (h) return 1 + Number(h[1]);
  if (/^out\d+$/.test(unit)) return 2 + hiddenDepth;
  return 3 + hiddenDepth;
}

function rankOf(unit) {
  const m = /(\d+)$/.exec(unit);
  return m ? Number(m[1]) : 0;
}

// --- focus ------------------------------------------------------------------------------------------

/** The units to show unfolded: the cursor's, then the pinned one's (a gate id or a fold id);
 * with neither, the first hidden unit, so that there are always some gates to read. */
export function gateFocus(graph, state, pinnedId) {
  if (!graph?.nodes) return [];
  const info = graphInfo(graph);
  const focus = [];
  const add = (unit) => { if (unit && info.units.has(unit) && !focus.includes(unit)) focus.push(unit); };
  const cursor = state?.cursor ? info.byId.get(state.cursor) : null;
  add(cursor?.of);
  if (typeof pinnedId === "string") add(pinnedId.startsWith(FOLD) ? pinnedId.slice(FOLD.length) : info.byId.get(pinnedId)?.of);
  if (!focus.length) add(info.firstHidden);
  return focus;
}

// --- text measurement -------------------------------------------------------------------------------

const widths = new Map();
let measurer;

/** Text width in CSS pixels. An OffscreenCanvas keeps the layout free of the page's DOM; without
 * one (a test runner), a conservative estimate keeps it working. */
function textWidth(text, fontString) {
  const key = `${fontString}\u0000${text}`;
  let w = widths.get(key);
  if (w !== undefined) return w;
  if (measurer === undefined) {
    try { measurer = new OffscreenCanvas(1, 1).getContext("2d"); } catch { measurer = null; }
  }
  if (measurer) { measurer.font = fontString; w = measurer.measureText(text).width; }
  else w = 0.62 * text.length * parseFloat(/([\d.]+)px/.exec(fontString)[1]);
  widths.set(key, w);
  return w;
}

// --- sizes ---------------------------------------------------------------------------------------------

function metrics(scale) {
  const s = scale;
  const m = {
    s, r: 14 * s, gap: 2 * s, colGap: 20 * s, rowGap: 8 * s, itemGap: 10 * s, bandGap: 24 * s, blockGap: 48 * s, bandGapMax: 150 * s,
    fSymbol: font(Math.round(13 * s), "600"), fName: font(Math.round(12 * s), "600"), fValue: font(Math.round(11 * s)),
    fLeaf: font(Math.round(11 * s)), fFold: font(Math.round(12 * s), "700"), padX: 5 * s, padY: 2 * s, margin: 12 * s,
  };
  // one line is a little taller than its font, so two stacked lines never touch
  m.line = (f) => Math.ceil(parseFloat(/([\d.]+)px/.exec(f)[1]) * 1.22);
  m.valueW = Math.ceil(Math.max(...WIDEST_VALUES.map((t) => textWidth(t, m.fValue)))) + 2 * s;
  m.valueH = m.line(m.fValue);
  m.nameH = m.line(m.fName);
  return m;
}

/** A leaf (input, parameter, constant) or a fold: a box holding its name and, below it, its value. */
function cardSize(name, nameFont, withValue, m) {
  const w = Math.max(textWidth(name, nameFont), withValue ? m.valueW : 0) + 2 * m.padX;
  const h = m.line(nameFont) + (withValue ? m.valueH : 0) + 2 * m.padY;
  return { w: Math.ceil(w), h: Math.ceil(h) };
}

// --- packing ----------------------------------------------------------------------------------------------

/** Centres for items kept in the given order along one axis, none closer than its neighbours'
 * extents plus `gap`, as close to their desired centres as possible (least squares): pooled
 * adjacent violators, so a run that cannot fit spreads evenly around where it wants to be. */
function pack(items, gap) {
  const n = items.length;
  const off = new Array(n);
  for (let i = 0; i < n; i++) off[i] = i ? off[i - 1] + items[i - 1].bottom + gap + items[i].top : 0;
  const pools = [];
  for (let i = 0; i < n; i++) {
    let pool = { lo: i, hi: i, sum: items[i].desired - off[i], count: 1 };
    pool.pos = pool.sum;
    while (pools.length && pools[pools.length - 1].pos > pool.pos) {
      const prev = pools.pop();
      pool = { lo: prev.lo, hi: pool.hi, sum: prev.sum + pool.sum, count: prev.count + pool.count };
      pool.pos = pool.sum / pool.count;
    }
    pools.push(pool);
  }
  const out = new Array(n);
  for (const pool of pools) for (let i = pool.lo; i <= pool.hi; i++) out[i] = pool.pos + off[i];
  return out;
}

const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;

// --- one unfolded unit --------------------------------------------------------------------------------

/** One unit's gates in columns of computation order. A running sum stays in its column as the
 * terms arrive (a ladder), which keeps a unit with eight inputs four columns wide instead of
 * eleven; each sum sits level with the product it adds, so that edge is a short straight line. */
function layoutBlock(unit, info, m, compact) {
  const nodes = unit.nodes;
  const ids = new Set(nodes.map((n) => n.id));
  const local = (id) => ids.has(id);
  const gateParents = (id) => info.parents.get(id).filter((p) => local(p) && info.byId.get(p).kind === "gate");
  const col = new Map(), chainOf = new Map();
  for (const n of nodes) {
    if (n.kind !== "gate") continue;
    const ps = gateParents(n.id);
    const chain = n.op === "+" ? ps.find((p) => info.byId.get(p).op === "+") : undefined;
    let c = chain ? col.get(chain) : 1;
    for (const p of ps) if (p !== chain) c = Math.max(c, col.get(p) + 1);
    col.set(n.id, c);
    if (chain !== undefined && col.get(chain) === c) chainOf.set(n.id, chain);
  }
  for (const n of nodes) {
    if (n.kind === "gate") continue;
    const uses = info.children.get(n.id).filter((c) => col.has(c));
    col.set(n.id, uses.length ? Math.min(...uses.map((c) => col.get(c))) - 1 : 0);
  }
  const lowest = Math.min(...col.values());
  for (const [id, c] of col) col.set(id, c - lowest);
  const chainChild = new Set(chainOf.values());

  // what each node needs around it: its name above (z, a), its value below, or beside it when a
  // running sum continues straight down from it
  const parts = new Map();
  for (const n of nodes) {
    const part = { node: n, col: col.get(n.id) };
    if (n.kind === "gate") {
      // a circle, stretched into a capsule when its symbol (tanh, lrelu) is wider than that
      part.symbol = n.symbol; // the server names each gate's operation (one list, in app/run/ops.py)
      part.h = 2 * m.r;
      part.w = Math.max(part.h, Math.ceil(textWidth(part.symbol, m.fSymbol)) + 10 * m.s);
      part.named = n.role === "z" || n.role === "a";
      part.continues = chainChild.has(n.id); // a running sum goes on straight down from it
      part.valueSide = compact || part.continues ? "right" : "below";
      part.top = m.r + (part.named ? m.nameH + m.gap : 0);
      part.bottom = m.r + (part.valueSide === "below" ? m.valueH + m.gap : 0);
      const nameW = part.named ? textWidth(n.label, m.fName) : 0;
      const left = Math.max(part.w / 2, part.valueSide === "below" ? m.valueW / 2 : 0, nameW / 2);
      part.left = left;
      part.right = part.valueSide === "right" ? part.w / 2 + m.gap + m.valueW : left;
      if (part.named) part.right = Math.max(part.right, 3 * m.s + nameW);
    } else {
      Object.assign(part, cardSize(n.label, m.fLeaf, n.kind !== "const", m));
      part.top = part.bottom = part.h / 2;
      part.left = part.right = part.w / 2;
    }
    parts.set(n.id, part);
  }

  // rows: gates first, column by column, each where its inputs are; then each leaf beside the
  // gate it feeds, a little above it when that gate also has an input from outside the unit,
  // so the edge from outside can pass below the leaf
  const columns = [];
  for (const n of nodes) {
    const c = col.get(n.id);
    (columns[c] ||= []).push(n.id);
  }
  // a row holds a gate and the value below it, or (compact) a parameter's card with room
  // under it for the edge from outside the unit to pass
  const leafH = cardSize("W", m.fLeaf, true, m).h;
  const pitch = compact ? Math.max(2 * m.r, leafH) + 10 * m.s : 2 * m.r + m.valueH + m.rowGap;
  const y = new Map();
  const placeColumn = (list, desired) => {
    const sorted = list.map((id) => ({ id, desired: desired.get(id), top: parts.get(id).top, bottom: parts.get(id).bottom }))
      .sort((a, b) => a.desired - b.desired || info.order.get(a.id) - info.order.get(b.id));
    pack(sorted, m.rowGap).forEach((cy, k) => y.set(sorted[k].id, cy));
  };
  const wanted = new Map();
  for (const list of columns) {
    if (!list) continue;
    let slot = 0;
    const gates = list.filter((id) => info.byId.get(id).kind === "gate");
    for (const id of gates) {
      const chain = chainOf.get(id);
      const across = gateParents(id).filter((p) => p !== chain).map((p) => wanted.get(p));
      let d;
      if (chain !== undefined) d = Math.max(across.length ? Math.max(...across) : -Infinity, wanted.get(chain) + pitch);
      else d = across.length ? mean(across) : slot++ * pitch;
      wanted.set(id, d);
    }
    placeColumn(gates, wanted);
    for (const id of gates) wanted.set(id, y.get(id));
  }
  for (const n of nodes) {
    if (n.kind === "gate") continue;
    const use = info.children.get(n.id).find((c) => col.has(c));
    if (use === undefined) { wanted.set(n.id, 0); continue; }
    const fromOutside = info.parents.get(use).some((p) => !local(p));
    wanted.set(n.id, wanted.get(use) - (fromOutside && col.get(use) > col.get(n.id) ? 0.3 * parts.get(n.id).h : 0));
  }
  for (const list of columns) if (list) placeColumn(list, wanted);

  // columns: as close as what hangs off their nodes allows, row by row: a wide value beside a
  // gate pushes the next column away only where something sits level with it
  const reach = (id) => {
    const p = parts.get(id), cy = y.get(id), side = p.valueSide === "right" ? m.valueH + m.gap : 0;
    return [cy - Math.max(p.top, side), cy + Math.max(p.bottom, side)];
  };
  const axis = [];
  columns.forEach((list, c) => {
    list ||= [];
    const left = Math.max(0, ...list.map((id) => parts.get(id).left));
    if (c === 0) { axis[0] = left; return; }
    const prev = columns[c - 1] || [];
    // an edge between neighbouring columns needs some length to read as one
    let at = axis[c - 1] + Math.max(0, ...prev.map((id) => parts.get(id).w / 2)) + 1.25 * m.colGap
      + Math.max(0, ...list.map((id) => parts.get(id).w / 2));
    for (let i = 0; i < c; i++) {
      for (const a of columns[i] || []) {
        const [a0, a1] = reach(a);
        for (const b of list) {
          const [b0, b1] = reach(b);
          if (a0 < b1 && b0 < a1) at = Math.max(at, axis[i] + parts.get(a).right + m.colGap + parts.get(b).left);
        }
      }
    }
    axis[c] = at;
  });
  let width = 0;
  for (const part of parts.values()) width = Math.max(width, axis[part.col] + part.right);
  const placed = new Map();
  let top = Infinity, bottom = -Infinity;
  for (const [id, part] of parts) {
    const cy = y.get(id);
    placed.set(id, { ...part, lx: axis[part.col], ly: cy });
    top = Math.min(top, cy - part.top);
    bottom = Math.max(bottom, cy + part.bottom);
  }
  // centred on the block's own middle, so the band packs it like any box
  const mid = (top + bottom) / 2;
  for (const part of placed.values()) part.ly -= mid;
  return { kind: "block", unit, w: width, top: mid - top, bottom: bottom - mid, parts: placed, chainOf };
}

// --- the whole view --------------------------------------------------------------------------------------

/** Where things go for this focus. Returns plain data:
 * { view: "gate", scale,
 *   nodes: Map<id, {id, x, y, w, h, shape: "gate"|"leaf"|"fold", label, of, node, valueId}>
 *     (x, y the centre; w, h the box; a fold's id is "unit:<of>" and its node null; valueId the
 *     state.nodes entry whose value it shows),
 *   edges: [{id, src, dst, points, members}]: points are a path from src's side to dst's, drawn
 *     as horizontal-tangent curves between consecutive points; members the graph edges it stands for,
 *   labels: [{text, x, y, w, h, owner, kind: "name"|"value", font, inside}] (x, y the top left;
 *     a value label's text is "" and its value is drawn fresh each frame inside the box),
 *   groups: [{of, label, x, y, w, h}] (the panel behind each unfolded unit),
 *   rep: Map<graph node id, visible id> (where each gate is drawn: itself or its fold),
 *   lossIds: Set of the loss's node ids (left out of the colour scale),
 *   bounds: {x, y, w, h} }. */
export function layoutGateView(graph, focus, width, height, options = {}) {
  const m = metrics(options.scale || 1);
  const empty = { view: "gate", scale: m.s, nodes: new Map(), edges: [], labels: [], groups: [], rep: new Map(), bounds: { x: 0, y: 0, w: 1, h: 1 } };
  if (!graph?.nodes?.length) return empty;
  const info = graphInfo(graph);
  const focused = new Set((focus || []).filter((u) => info.units.has(u)));
  const rep = new Map();
  for (const n of graph.nodes) rep.set(n.id, n.kind === "input" || !n.of || focused.has(n.of) ? n.id : FOLD + n.of);

  // items: what each band (column of the neuron view) stacks, top to bottom. When that does not
  // fit, the folds drop their value line (their colour still shows it; narrower and shorter
  // cards), then gates take their values beside them (shorter rows): zooming out instead would
  // shrink every label.
  const build = (compact, foldValues) => {
    const bands = new Map();
    const itemOf = new Map(); // visible id -> {item, part}
    const addItem = (band, item) => {
      if (!bands.has(band)) bands.set(band, []);
      bands.get(band).push(item);
    };
    for (const n of graph.nodes) {
      if (n.kind !== "input" && n.of) continue;
      const item = { kind: "leaf", id: n.id, node: n, rank: info.order.get(n.id), ...cardSize(n.label, m.fLeaf, true, m) };
      item.top = item.bottom = item.h / 2;
      addItem(0, item);
      itemOf.set(n.id, { item });
    }
    for (const unit of info.units.values()) {
      let item;
      if (focused.has(unit.id)) {
        item = layoutBlock(unit, info, m, compact);
        for (const id of item.parts.keys()) itemOf.set(id, { item, part: item.parts.get(id) });
      } else {
        item = { kind: "fold", id: FOLD + unit.id, unit, withValue: foldValues, ...cardSize(unit.label, m.fFold, foldValues, m) };
        item.top = item.bottom = item.h / 2;
        itemOf.set(item.id, { item });
      }
      item.rank = unit.rank;
      item.first = unit.first;
      addItem(unit.band, item);
    }
    const bandList = [...bands.keys()].sort((a, b) => a - b).map((key) => {
      const items = bands.get(key).sort((a, b) => a.rank - b.rank || (a.first ?? 0) - (b.first ?? 0));
      const hasBlock = items.some((i) => i.kind === "block");
      const tall = items.reduce((t, i) => t + i.top + i.bottom + (i.kind === "block" ? 2 * m.itemGap : 0), 0) + (items.length - 1) * m.itemGap;
      return { key, items, w: Math.max(...items.map((i) => i.w)), hasBlock, tall };
    });
    return { bandList, itemOf, tall: Math.max(...bandList.map((b) => b.tall)), wide: bandList.reduce((t, b) => t + b.w, 0) };
  };
  // a slightly zoomed-out view is worth more than values moved aside or dropped: go on to the
  // next level only when this one would shrink the drawing noticeably and the next one helps
  const gapsOf = (bandList) => bandList.slice(1).map((band) => (band.hasBlock ? m.blockGap : m.bandGap));
  const fit = (b) => Math.min(1, (width - 2 * m.margin) / (b.wide + gapsOf(b.bandList).reduce((t, g) => t + g, 0)), (height - 2 * m.margin) / b.tall);
  let built = build(false, true);
  for (const [compact, foldValues] of [[false, false], [true, true], [true, false]]) {
    if (fit(built) >= 0.92) break;
    const next = build(compact, foldValues);
    if (fit(next) > fit(built) * 1.04) built = next;
  }
  const { bandList, itemOf } = built;
  bandList.forEach((band, k) => { for (const item of band.items) item.band = k; });

  // the visible edges: each graph edge between the things its ends are drawn as, once
  const edgeMap = new Map();
  for (const e of graph.edges) {
    const src = rep.get(e.src), dst = rep.get(e.dst);
    if (src === undefined || dst === undefined || src === dst) continue;
    const key = `${src}→${dst}`;
    let edge = edgeMap.get(key);
    if (!edge) {
      edge = { id: src === e.src && dst === e.dst ? e.id : key, src, dst, points: null, members: [] };
      edgeMap.set(key, edge);
    }
    edge.members.push({ id: e.id, src: e.src, dst: e.dst });
  }
  const edges = [...edgeMap.values()];

  // horizontal: bands left to right, the spare width shared out between them; edges into an
  // unfolded unit need more room to fan out to the rows they enter by
  const minGaps = gapsOf(bandList);
  const spare = width - 2 * m.margin - bandList.reduce((a, b) => a + b.w, 0) - minGaps.reduce((a, b) => a + b, 0);
  const extra = Math.max(0, spare / Math.max(1, minGaps.length));
  let x = m.margin;
  bandList.forEach((band, k) => {
    if (k) x += Math.min(m.bandGapMax, minGaps[k - 1] + extra);
    band.x = x;
    for (const item of band.items) item.x = band.hasBlock || item.kind === "block" ? x : x + (band.w - item.w) / 2;
    x += band.w;
  });

  // vertical: the band holding the focus is stacked first; every other band is then pulled level
  // with what it connects to, outwards from there, so the edges run as flat as they can
  const offsetIn = (id) => { const at = itemOf.get(id); return at.part ? at.part.ly : 0; };
  const stack = (band, desiredOf) => {
    // a little more room next to an unfolded unit, so its panel stands apart from the folds
    const extra = (item) => (item.kind === "block" ? m.itemGap : 0);
    const centres = pack(band.items.map((item) => ({ desired: desiredOf(item), top: item.top + extra(item), bottom: item.bottom + extra(item) })), m.itemGap);
    band.items.forEach((item, k) => { item.cy = centres[k]; });
  };
  const anchor = Math.max(0, bandList.findIndex((b) => b.hasBlock));
  stack(bandList[anchor], () => 0);
  const centreOf = (id) => itemOf.get(id).item.cy + offsetIn(id);
  const touching = new Map(); // item -> the edges at it
  for (const e of edges) {
    for (const end of [itemOf.get(e.src).item, itemOf.get(e.dst).item]) {
      if (!touching.has(end)) touching.set(end, []);
      touching.get(end).push(e);
    }
  }
  const pulled = (item, placed) => {
    let sum = 0, count = 0;
    for (const e of touching.get(item) || []) {
      const a = itemOf.get(e.src).item, b = itemOf.get(e.dst).item;
      if (b === item && a !== item && placed(a)) { sum += centreOf(e.src) - offsetIn(e.dst); count++; }
      else if (a === item && b !== item && placed(b)) { sum += centreOf(e.dst) - offsetIn(e.src); count++; }
    }
    return count ? sum / count : 0;
  };
  for (let k = anchor + 1; k < bandList.length; k++) stack(bandList[k], (item) => pulled(item, (o) => o.band < k));
  for (let k = anchor - 1; k >= 0; k--) stack(bandList[k], (item) => pulled(item, (o) => o.band > k));

  // vertically centred when it fits; zoom-to-fit takes care of it when it does not
  let top = Infinity, bottom = -Infinity;
  for (const band of bandList) for (const item of band.items) { top = Math.min(top, item.cy - item.top); bottom = Math.max(bottom, item.cy + item.bottom); }
  const shift = m.margin + Math.max(0, (height - 2 * m.margin - (bottom - top)) / 2) - top;
  for (const band of bandList) for (const item of band.items) item.cy += shift;

  // the visible nodes
  const nodes = new Map();
  const groups = [];
  for (const band of bandList) {
    for (const item of band.items) {
      if (item.kind === "block") {
        for (const [id, part] of item.parts) {
          const n = part.node;
          nodes.set(id, {
            id, x: item.x + part.lx, y: item.cy + part.ly, w: part.w, h: part.h, shape: n.kind === "gate" ? "gate" : "leaf",
            label: n.label, of: n.of, node: n, valueId: id, col: part.col, item, block: item, part, band,
          });
        }
        const pad = 6 * m.s;
        groups.push({ of: item.unit.id, label: item.unit.label, x: item.x - pad, y: item.cy - item.top - pad, w: item.w + 2 * pad, h: item.top + item.bottom + 2 * pad });
      } else if (item.kind === "fold") {
        nodes.set(item.id, {
          id: item.id, x: item.x + item.w / 2, y: item.cy, w: item.w, h: item.h, shape: "fold",
          label: item.unit.label, of: item.unit.id, node: null, valueId: item.unit.valueId, withValue: item.withValue, item, band,
        });
      } else {
        nodes.set(item.id, {
          id: item.id, x: item.x + item.w / 2, y: item.cy, w: item.w, h: item.h, shape: "leaf",
          label: item.node.label, of: item.node.of, node: item.node, valueId: item.id, item, band,
        });
      }
    }
  }
  for (const e of edges) e.points = route(nodes.get(e.src), nodes.get(e.dst), m);
  const labels = placeAllLabels(nodes, edges, m);

  let bx0 = Infinity, by0 = Infinity, bx1 = -Infinity, by1 = -Infinity;
  const grow = (b) => { bx0 = Math.min(bx0, b.x); by0 = Math.min(by0, b.y); bx1 = Math.max(bx1, b.x + b.w); by1 = Math.max(by1, b.y + b.h); };
  for (const n of nodes.values()) grow(box(n));
  for (const l of labels) grow(l);
  for (const g of groups) grow(g);
  for (const e of edges) for (const [px, py] of e.points) grow({ x: px, y: py, w: 0, h: 0 });
  // the layout's working parts are not part of its data
  for (const n of nodes.values()) { delete n.item; delete n.block; delete n.part; delete n.band; delete n.withValue; delete n.col; }
  const pad = 4 * m.s;
  return {
    view: "gate", scale: m.s, nodes, edges, labels, groups, rep, lossIds: info.lossIds,
    bounds: { x: bx0 - pad, y: by0 - pad, w: bx1 - bx0 + 2 * pad, h: by1 - by0 + 2 * pad },
  };
}

/** A node's box, top left based. */
function box(n) {
  return { x: n.x - n.w / 2, y: n.y - n.h / 2, w: n.w, h: n.h };
}

// --- edges ---------------------------------------------------------------------------------------------------

/** The y nearest `target` at which a line can cross `obstacles` (boxes spanning its way). */
function corridor(obstacles, target, clearance) {
  const spans = obstacles.map((o) => [o.y - clearance, o.y + o.h + clearance]).sort((a, b) => a[0] - b[0]);
  const merged = [];
  for (const s of spans) {
    if (merged.length && s[0] <= merged[merged.length - 1][1]) merged[merged.length - 1][1] = Math.max(merged[merged.length - 1][1], s[1]);
    else merged.push([...s]);
  }
  const inside = merged.find(([a, b]) => target > a && target < b);
  if (!inside) return target;
  return target - inside[0] < inside[1] - target ? inside[0] : inside[1];
}

/** The boxes (with the value labels hanging below them) of an unfolded unit's nodes lying
 * strictly between x0 and x1: what an edge into or out of the unit must pass between. */
function blockObstacles(n, x0, x1, m) {
  const out = [];
  for (const [, part] of n.block.parts) {
    const cx = n.block.x + part.lx;
    if (cx - part.w / 2 <= x0 || cx + part.w / 2 >= x1) continue;
    const cy = n.block.cy + part.ly;
    const below = part.valueSide === "below" ? m.valueH + m.gap : 0;
    out.push({ x: cx - part.w / 2, y: cy - part.h / 2, w: part.w, h: part.h + below });
  }
  return out;
}

/** The path of one visible edge: out of src's right side into dst's left one, threading
 * between the nodes of an unfolded unit, running flat past a fold's neighbours in a wide band;
 * straight down (or up) within one column. Units of one band that feed each other (softmax)
 * are joined around the band's edges, where the rows of folds leave the way free. */
function route(a, b, m) {
  const sameBlock = !!a.block && a.block === b.block;
  if (sameBlock && a.col === b.col) {
    const down = b.y > a.y;
    return [[a.x, a.y + (down ? a.h / 2 : -a.h / 2)], [b.x, b.y + (down ? -b.h / 2 : b.h / 2)]];
  }
  if (sameBlock) return [[a.x + a.w / 2, a.y], [b.x - b.w / 2, b.y]];
  const bandA = a.item.band, bandB = b.item.band;
  if (bandA === bandB) {
    const band = a.band || b.band;
    const right = band.x + band.w + 8 * m.s, left = band.x - 8 * m.s;
    if (!a.block && !b.block) return [[a.x + a.w / 2, a.y], [right, a.y], [right, b.y], [b.x + b.w / 2, b.y]];
    // a quarter of the card off its middle, so as not to run along the card's own edges
    if (!a.block) {
      const entry = entryPath(b, m), y = a.y + a.h / 4;
      return [[a.x - a.w / 2, y], [left, y], [left, entry[0][1]], ...entry];
    }
    if (!b.block) {
      const exit = exitPath(a, m), y = b.y + b.h / 4;
      const last = exit[exit.length - 1];
      return [...exit, [right, last[1]], [right, y], [b.x + b.w / 2, y]];
    }
  }
  return [...exitPath(a, m), ...entryPath(b, m)];
}

/** From a node's right side to where its edges may fan out freely. */
function exitPath(a, m) {
  const start = [a.x + a.w / 2, a.y];
  if (a.block) {
    const blockRight = a.block.x + a.block.w;
    const obstacles = blockObstacles(a, start[0], blockRight + 1, m);
    if (!obstacles.length) return [start];
    const yc = corridor(obstacles, a.y, 3 * m.s);
    return [start, [Math.min(...obstacles.map((o) => o.x)) - 4 * m.s, yc], [blockRight + 4 * m.s, yc]];
  }
  if (a.band && a.band.hasBlock && start[0] < a.band.x + a.band.w - 1) {
    return [start, [a.band.x + a.band.w + 2 * m.s, a.y]]; // past the unfolded unit beside it
  }
  return [start];
}

/** From where edges arrive to a node's left side, between the nodes of its unit that are in the way. */
function entryPath(b, m) {
  const end = [b.x - b.w / 2, b.y];
  if (!b.block) return [end];
  const obstacles = blockObstacles(b, b.block.x - 1, end[0], m);
  if (!obstacles.length) return [end];
  // a little below the gate's middle: the parameter it multiplies comes in from above
  const yc = corridor(obstacles, b.y + 0.45 * m.r, 3 * m.s);
  const x1 = Math.max(...obstacles.map((o) => o.x + o.w)) + 4 * m.s;
  if (Math.abs(yc - b.y) > 1 && b.shape === "gate") {
    const dx = b.x - x1, dy = yc - b.y, len = Math.hypot(dx, dy);
    end[0] = b.x - (dx / len) * b.h / 2;
    end[1] = b.y + (dy / len) * b.h / 2;
  }
  return [[b.block.x - 4 * m.s, yc], [x1, yc], end];
}

/** Follow a path: flat-ended curves between consecutive points (straight where they line up). */
function tracePath(points, visit) {
  for (let k = 1; k < points.length; k++) {
    const [x0, y0] = points[k - 1], [x1, y1] = points[k];
    const dx = x1 - x0;
    if (Math.abs(dx) < 0.5 || Math.abs(y1 - y0) < 0.5) visit.line(x1, y1, x0, y0);
    else visit.curve(x0 + dx / 2, y0, x1 - dx / 2, y1, x1, y1, x0, y0);
  }
}

/** Points along every edge, so labels can keep off the lines. */
function sampleEdges(edges, step) {
  const points = [];
  for (const e of edges) {
    tracePath(e.points, {
      line(x1, y1, x0, y0) {
        const n = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0) / step));
        for (let k = 1; k < n; k++) points.push(x0 + ((x1 - x0) * k) / n, y0 + ((y1 - y0) * k) / n);
      },
      curve(c1x, c1y, c2x, c2y, x1, y1, x0, y0) {
        const n = Math.max(2, Math.ceil(Math.hypot(x1 - x0, y1 - y0) / step));
        for (let k = 1; k < n; k++) {
          const t = k / n, u = 1 - t;
          points.push(u * u * u * x0 + 3 * u * u * t * c1x + 3 * u * t * t * c2x + t * t * t * x1,
            u * u * u * y0 + 3 * u * u * t * c1y + 3 * u * t * t * c2y + t * t * t * y1);
        }
      },
    });
  }
  return points;
}

// --- labels ----------------------------------------------------------------------------------------------------

const collides = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/** Every label: inside a box (leaves, folds, a gate's symbol) or beside its gate (z and a
 * names, gate values). Those beside a gate try their places in order and take the first that
 * touches no node and no label, preferring one that no edge crosses. */
function placeAllLabels(nodes, edges, m) {
  const labels = [];
  const nodeBoxes = [...nodes.values()].map((n) => ({ ...box(n), id: n.id }));
  const inner = (owner, kind, text, f, cx, cy, w, h) => labels.push({ text, x: cx - w / 2, y: cy - h / 2, w, h, owner, kind, font: f, inside: true });
  const outside = [];
  for (const n of nodes.values()) {
    if (n.shape === "gate") {
      const text = n.part.symbol;
      inner(n.id, "name", text, m.fSymbol, n.x, n.y, Math.ceil(textWidth(text, m.fSymbol)) + 2, m.line(m.fSymbol) - 2);
      const fromAbove = n.block.chainOf.has(n.id);
      if (n.part.named) {
        outside.push({ owner: n.id, kind: "name", text: n.label, font: m.fName, w: Math.ceil(textWidth(n.label, m.fName)) + 2, h: m.nameH - 1,
          priority: 3, sides: fromAbove ? ["aboveRight", "aboveLeft", "right", "above", "belowRight"] : ["above", "aboveRight", "aboveLeft", "right", "left"] });
      }
      // beside a gate, a value sits just above the wire it leaves by, as on a blackboard
      const sides = n.part.continues ? ["right", "rightAbove", "rightBelow", "left", "belowRight", "below"]
        : n.part.valueSide === "right" ? ["rightAbove", "rightBelow", "right", "below", "above"]
          : ["below", "belowRight", "belowLeft", "rightAbove", "rightBelow", "right", "left", "above"];
      outside.push({ owner: n.id, kind: "value", text: "", font: m.fValue, w: m.valueW, h: m.valueH - 1, priority: 2, sides });
      continue;
    }
    // a card: its name on the first line, its value on the second
    const nameFont = n.shape === "fold" ? m.fFold : m.fLeaf;
    const withValue = n.shape === "fold" ? n.withValue : n.node.kind !== "const";
    const nameH = m.line(nameFont), top = n.y - n.h / 2 + m.padY;
    inner(n.id, "name", n.label, nameFont, n.x, top + nameH / 2, Math.ceil(textWidth(n.label, nameFont)) + 2, nameH - 1);
    if (withValue) inner(n.id, "value", "", m.fValue, n.x, top + nameH + m.valueH / 2, m.valueW, m.valueH - 1);
  }
  // the edges' points bucketed in a coarse grid: a label only looks at the cells it covers
  const samples = sampleEdges(edges, 4 * m.s);
  const cell = 32 * m.s, grid = new Map();
  for (let k = 0; k < samples.length; k += 2) {
    const key = Math.floor(samples[k] / cell) * 65536 + Math.floor(samples[k + 1] / cell);
    const bucket = grid.get(key);
    if (bucket) bucket.push(k); else grid.set(key, [k]);
  }
  const crossings = (b) => {
    let hits = 0;
    for (let i = Math.floor(b.x / cell); i <= Math.floor((b.x + b.w) / cell); i++) {
      for (let j = Math.floor(b.y / cell); j <= Math.floor((b.y + b.h) / cell); j++) {
        for (const k of grid.get(i * 65536 + j) || []) {
          const px = samples[k], py = samples[k + 1];
          if (px > b.x && px < b.x + b.w && py > b.y && py < b.y + b.h) hits++;
        }
      }
    }
    return hits;
  };
  const g = m.gap;
  const at = {
    below: (n, w) => [n.x - w / 2, n.y + n.h / 2 + g],
    above: (n, w, h) => [n.x - w / 2, n.y - n.h / 2 - g - h],
    right: (n, w, h) => [n.x + n.w / 2 + g, n.y - h / 2],
    rightAbove: (n, w, h) => [n.x + n.w / 2 + g, n.y - h - g],
    rightBelow: (n) => [n.x + n.w / 2 + g, n.y + g],
    left: (n, w, h) => [n.x - n.w / 2 - g - w, n.y - h / 2],
    aboveRight: (n, w, h) => [n.x + 3 * m.s, n.y - n.h / 2 - g - h],
    aboveLeft: (n, w, h) => [n.x - 3 * m.s - w, n.y - n.h / 2 - g - h],
    belowRight: (n) => [n.x + 3 * m.s, n.y + n.h / 2 + g],
    belowLeft: (n, w) => [n.x - 3 * m.s - w, n.y + n.h / 2 + g],
  };
  outside.sort((a, b) => b.priority - a.priority);
  for (const want of outside) {
    const n = nodes.get(want.owner);
    let best = null, bestHits = Infinity;
    for (const side of want.sides) {
      const [x, y] = at[side](n, want.w, want.h);
      const b = { x, y, w: want.w, h: want.h };
      if (nodeBoxes.some((o) => o.id !== want.owner && collides(b, o))) continue;
      if (labels.some((l) => collides(b, l))) continue;
      const hits = crossings(b);
      if (hits < bestHits) { best = b; bestHits = hits; }
      if (hits === 0) break;
    }
    if (best) labels.push({ text: want.text, ...best, owner: want.owner, kind: want.kind, font: want.font, inside: false });
  }
  return labels;
}

// --- drawing -------------------------------------------------------------------------------------------------------

const scaleCache = new WeakMap();

/** How far values and gradients reach (the loss left out: its size would wash out every unit). */
function scalesOf(state, layout) {
  const nodes = state?.nodes;
  if (!nodes) return { value: 1, grad: 1 };
  let cached = scaleCache.get(nodes);
  if (cached) return cached;
  const lossIds = layout.lossIds || new Set();
  let value = 0, grad = 0;
  for (const [id, v] of Object.entries(nodes)) {
    if (lossIds.has(id) || !v) continue;
    if (Number.isFinite(v.a)) value = Math.max(value, Math.abs(v.a));
    if (Number.isFinite(v.grad_a)) grad = Math.max(grad, Math.abs(v.grad_a));
  }
  cached = { value: value || 1, grad: grad || 1 };
  scaleCache.set(nodes, cached);
  return cached;
}


/** Which way something flows along a visible edge at this step: +1 with it, −1 against, 0 not. */
function flowOf(edge, state) {
  const cursor = state?.cursor, phase = state?.phase;
  if (!cursor) return 0;
  for (const e of edge.members) {
    if (phase === "forward" && e.dst === cursor) return 1;
    if (phase === "backward" && e.dst === cursor) return -1; // the gate hands its gradient to its inputs
    if (phase === "update" && e.src === cursor) return 1;
  }
  return 0;
}


function shapePath(ctx, n, grow = 0) {
  if (n.shape === "gate") {
    if (n.w > n.h + 0.5) {
      roundRect(ctx, n.x - n.w / 2 - grow, n.y - n.h / 2 - grow, n.w + 2 * grow, n.h + 2 * grow, n.h / 2 + grow);
      return;
    }
    ctx.beginPath();
    ctx.arc(n.x, n.y, n.w / 2 + grow, 0, 2 * Math.PI);
    return;
  }
  const r = n.shape === "fold" ? Math.min(9, n.h / 3) : 3;
  roundRect(ctx, n.x - n.w / 2 - grow, n.y - n.h / 2 - grow, n.w + 2 * grow, n.h + 2 * grow, r + grow);
}

/** Dark text on light fills, white on dark ones. */
function textOn(rgb) {
  if (!rgb) return INK;
  const [r, g, b] = rgb;
  return 0.299 * r + 0.587 * g + 0.114 * b < 150 ? "#ffffff" : INK;
}

/** Paint the view into `ctx` (already zoomed and panned by the caller). Reads the store only. */
export function drawGateView(ctx, layout, store, now = 0) {
  if (!layout?.nodes) return;
  const k = layout.scale || 1;
  const state = store?.state || null;
  const byGradient = colouring(store) === "gradient";
  const scales = scalesOf(state, layout);
  const scale = byGradient ? scales.grad : scales.value;
  const shownOf = (id) => {
    const v = state?.nodes?.[id];
    const x = byGradient ? v?.grad_a : v?.a;
    return x === null || x === undefined ? null : x;
  };
  const dead = new Set(state?.diagnostics?.dead || []), saturated = new Set(state?.diagnostics?.saturated || []);
  const cursor = state?.cursor ? layout.rep.get(state.cursor) ?? state.cursor : null;
  const hover = store?.hover?.id ?? null;
  const pinned = store?.pinned ? layout.rep.get(store.pinned) ?? store.pinned : null;
  const question = store?.question;
  const asked = question?.open && question.node ? layout.rep.get(question.node) ?? question.node : null;

  ctx.save();
  for (const g of layout.groups) {
    roundRect(ctx, g.x, g.y, g.w, g.h, 10 * k);
    ctx.fillStyle = "rgba(232, 236, 243, 0.55)";
    ctx.fill();
    ctx.lineWidth = 1 * k;
    ctx.strokeStyle = saturated.has(g.of) ? css(SATURATED, 0.9) : "rgba(150, 158, 170, 0.6)";
    ctx.setLineDash([4 * k, 3 * k]);
    ctx.stroke();
    ctx.setLineDash([]);
  }

  for (const edge of layout.edges) {
    const flow = flowOf(edge, state);
    ctx.strokeStyle = flow ? (flow > 0 ? "rgba(31, 111, 178, 1)" : "rgba(200, 100, 10, 1)") : "rgba(150, 158, 170, 0.75)";
    ctx.lineWidth = (flow ? 3 : 1.2) * k;
    ctx.setLineDash(flow ? [7 * k, 5 * k] : []);
    ctx.lineDashOffset = flow ? -flow * ((now / 40) % (12 * k)) : 0;
    ctx.beginPath();
    ctx.moveTo(edge.points[0][0], edge.points[0][1]);
    tracePath(edge.points, {
      line: (x, y) => ctx.lineTo(x, y),
      curve: (c1x, c1y, c2x, c2y, x, y) => ctx.bezierCurveTo(c1x, c1y, c2x, c2y, x, y),
    });
    ctx.stroke();
  }
  ctx.setLineDash([]);
  ctx.lineDashOffset = 0;

  const fills = new Map();
  for (const n of layout.nodes.values()) {
    const v = shownOf(n.valueId);
    const isDead = dead.has(n.of) && n.node?.kind !== "param";
    const rgb = isDead ? [196, 199, 205] : v === null ? [241, 243, 246] : diverging(signedUnit(v, scale * 0.5));
    fills.set(n.id, rgb);
    shapePath(ctx, n);
    ctx.fillStyle = css(rgb);
    ctx.fill();
    const isSaturated = saturated.has(n.of) && (n.shape === "fold" || n.node?.kind === "gate");
    ctx.lineWidth = (isSaturated ? 3 : n.shape === "fold" ? 1.6 : 1.2) * k;
    ctx.strokeStyle = isSaturated ? css(SATURATED) : isDead ? css(DEAD_GREY) : "#8a93a3";
    ctx.stroke();
    if (isDead && n.shape === "fold") {
      // nothing gets through a dead unit: hatched as in the neuron view
      ctx.save();
      shapePath(ctx, n);
      ctx.clip();
      ctx.strokeStyle = "rgba(118, 123, 133, 0.45)";
      ctx.lineWidth = 1 * k;
      for (let d = -n.h; d < n.w; d += 7 * k) {
        ctx.beginPath();
        ctx.moveTo(n.x - n.w / 2 + d, n.y + n.h / 2);
        ctx.lineTo(n.x - n.w / 2 + d + n.h, n.y - n.h / 2);
        ctx.stroke();
      }
      ctx.restore();
    }
    if (n.id === hover || n.id === pinned) {
      shapePath(ctx, n, 1.5 * k);
      ctx.lineWidth = (n.id === pinned ? 3 : 2) * k;
      ctx.strokeStyle = INK;
      ctx.stroke();
    }
    if (n.id === cursor) {
      shapePath(ctx, n, 2 * k);
      ctx.lineWidth = 4 * k;
      ctx.strokeStyle = CURSOR;
      ctx.stroke();
    }
    if (n.id === asked) { // an open question is about this value: ringed in the question's colour
      shapePath(ctx, n, 7 * k);
      ctx.lineWidth = 4 * k;
      ctx.setLineDash([8 * k, 5 * k]);
      ctx.strokeStyle = "#7b3fb5";
      ctx.stroke();
      ctx.setLineDash([]);
    }
  }

  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  for (const label of layout.labels) {
    let text = label.kind === "value" ? short(shownOf(layout.nodes.get(label.owner)?.valueId)) : label.text;
    ctx.font = label.font;
    ctx.fillStyle = label.inside ? textOn(fills.get(label.owner)) : label.kind === "value" ? "#262c38" : "#3b4352";
    if (!text && label.inside) {
      // a card with no value yet says so, rather than looking cut short
      text = "–";
      ctx.fillStyle = "#9aa2b0";
    }
    if (!text) continue;
    ctx.fillText(text, label.x + label.w / 2, label.y + label.h / 2 + 0.5, label.w);
  }
  ctx.restore();
}

// --- pointing ----------------------------------------------------------------------------------------------------

/** The node under (x, y) in layout coordinates, or null. A fold answers with its "unit:" id. */
export function hitTestGateView(layout, x, y) {
  if (!layout?.nodes) return null;
  for (const n of layout.nodes.values()) {
    if (n.shape === "gate" && n.w <= n.h + 0.5) {
      if (Math.hypot(x - n.x, y - n.y) <= n.w / 2 + 1) return { kind: "node", id: n.id };
    } else if (Math.abs(x - n.x) <= n.w / 2 && Math.abs(y - n.y) <= n.h / 2) {
      return { kind: "node", id: n.id };
    }
  }
  return null;
}
