// Where each node of the graph sits: one column per layer, the loss node last.
export function layoutGraph(graph, width, height) {
  const columns = new Map();
  for (const node of graph.nodes) {
    if (!columns.has(node.layer)) columns.set(node.layer, []);
    columns.get(node.layer).push(node);
  }
  const layers = [...columns.keys()].sort((a, b) => a - b);
  const tallest = Math.max(...layers.map((l) => columns.get(l).length));
  const margin = { x: 70, top: 26, bottom: 30 };
  const gap = (height - margin.top - margin.bottom) / Math.max(tallest, 1);
  const size = Math.max(18, Math.min(56, gap * 0.72, (width - 2 * margin.x) / (layers.length * 2.2)));
  const step = layers.length > 1 ? (width - 2 * margin.x) / (layers.length - 1) : 0;
  const positions = new Map();
  layers.forEach((layer, col) => {
    const nodes = columns.get(layer);
    const span = gap * (nodes.length - 1);
    const top = margin.top + (height - margin.top - margin.bottom - span) / 2;
    nodes.forEach((node, row) => {
      positions.set(node.id, { x: margin.x + col * step, y: top + row * gap, node });
    });
  });
  return { positions, size, layers };
}

/** The node or edge under (x, y), or null. Edges are hit within a few pixels of their curve. */
export function hitTest(layout, graph, x, y) {
  const half = layout.size / 2;
  for (const [id, p] of layout.positions) {
    if (Math.abs(x - p.x) <= half && Math.abs(y - p.y) <= half) return { kind: "node", id };
  }
  let best = null;
  for (const edge of graph.edges) {
    const a = layout.positions.get(edge.src), b = layout.positions.get(edge.dst);
    if (!a || !b) continue;
    const d = distanceToCurve(a, b, half, x, y);
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
