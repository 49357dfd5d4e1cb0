// Custom data: points added and removed on the boundary plot, CSV in and out. Every change is
// sent as the custom dataset's whole point list; the server validates and rebuilds.

/** Every point of the current dataset as [x1, x2, label] rows (custom keeps its own order). */
export function currentPoints(config, dataset) {
  if (config?.dataset?.name === "custom" && config.dataset.points) return config.dataset.points.map((p) => p.slice());
  return dataset ? [...dataset.train, ...dataset.test].map((p) => p.slice()) : [];
}

export function customConfig(points, current) {
  const classes = Math.max(2, ...points.map((p) => p[2] + 1));
  const patch = { dataset: { name: "custom", points, classes } };
  // one sigmoid output cannot tell three classes apart: move to softmax with the data
  if (classes > 2 && current?.loss === "bce") patch.loss = "cross_entropy";
  return patch;
}

export function nearest(points, x1, x2) {
  let best = -1, bestD = Infinity;
  points.forEach((p, i) => {
    const d = (p[0] - x1) ** 2 + (p[1] - x2) ** 2;
    if (d < bestD) { bestD = d; best = i; }
  });
  return best;
}

/** Parse `x1,x2,label` rows (an optional header line first), within the server's `limits`
 * (`coordinate`, `classes`). Throws with the bad row named. */
export function parseCsv(text, { coordinate, classes }) {
  const lines = text.split(/\r?\n/);
  const points = [];
  lines.forEach((line, index) => {
    const row = index + 1;
    if (!line.trim()) return;
    const cells = line.split(",").map((c) => c.trim());
    if (index === 0 && cells.join(",").toLowerCase() === "x1,x2,label") return;
    if (cells.length !== 3) throw new Error(`row ${row}: expected 3 values (x1,x2,label), got ${cells.length}`);
    const [x1, x2] = cells.slice(0, 2).map(Number);
    for (const [name, raw, value] of [["x1", cells[0], x1], ["x2", cells[1], x2]]) {
      if (raw === "" || !Number.isFinite(value)) throw new Error(`row ${row}: ${name} "${raw}" is not a number`);
      if (Math.abs(value) > coordinate) {
        throw new Error(`row ${row}: ${name} = ${value} is outside the plane (−${coordinate} to ${coordinate})`);
      }
    }
    const label = Number(cells[2]);
    if (!Number.isInteger(label) || label < 0 || label >= classes) {
      throw new Error(`row ${row}: label "${cells[2]}" must be a whole number from 0 to ${classes - 1}`);
    }
    points.push([x1, x2, label]);
  });
  if (!points.length) throw new Error("the file holds no rows of x1,x2,label");
  return points;
}

export function toCsv(points) {
  return ["x1,x2,label", ...points.map((p) => `${p[0]},${p[1]},${p[2]}`)].join("\n") + "\n";
}
