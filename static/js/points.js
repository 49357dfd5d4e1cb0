// Custom data: points added and removed on the plot, CSV in and out. Every change is sent as the
// dataset's whole point list; the server validates and rebuilds. A row is [x1, x2, label] for
// classes, [x1, x2, y] for a fitted surface and [x1, y] for a curve (`kind`, from task.js).

export const COLUMNS = { classes: ["x1", "x2", "label"], surface: ["x1", "x2", "y"], curve: ["x1", "y"] };

/** Every point of the current dataset as rows (points given in the config keep their own order). */
export function currentPoints(config, dataset) {
  if (config?.dataset?.points) return config.dataset.points.map((p) => p.slice());
  return dataset ? [...dataset.train, ...dataset.test].map((p) => p.slice()) : [];
}

/** The config a new point list makes: classes become the custom dataset; a regression dataset
 * keeps its name (it says the task and the row's shape) with these points in place of its own. */
export function customConfig(points, current, kind = "classes") {
  if (kind !== "classes") return { dataset: { name: current.dataset.name, points } };
  const classes = Math.max(2, ...points.map((p) => p[2] + 1));
  const patch = { dataset: { name: "custom", points, classes } };
  // one sigmoid output cannot tell three classes apart: move to softmax with the data
  if (classes > 2 && current?.loss === "bce") patch.loss = "cross_entropy";
  return patch;
}

/** The point nearest (x, y) on the plot: (x1, x2), or (x1, y) on a curve, whose rows begin so. */
export function nearest(points, x, y) {
  let best = -1, bestD = Infinity;
  points.forEach((p, i) => {
    const d = (p[0] - x) ** 2 + (p[1] - y) ** 2;
    if (d < bestD) { bestD = d; best = i; }
  });
  return best;
}

function number(cells, k, row, name) {
  const value = Number(cells[k]);
  if (cells[k] === "" || !Number.isFinite(value)) throw new Error(`row ${row}: ${name} "${cells[k]}" is not a number`);
  return value;
}

/** Parse rows of the task's columns (an optional header line first), within the server's
 * `limits` (`coordinate`, `target`, `classes`). Throws with the bad row named. */
export function parseCsv(text, { coordinate, target = coordinate, classes }, kind = "classes") {
  const columns = COLUMNS[kind];
  const points = [];
  text.split(/\r?\n/).forEach((line, index) => {
    const row = index + 1;
    if (!line.trim()) return;
    const cells = line.split(",").map((c) => c.trim());
    if (index === 0 && cells.join(",").toLowerCase() === columns.join(",")) return;
    if (cells.length !== columns.length) {
      throw new Error(`row ${row}: expected ${columns.length} values (${columns.join(",")}), got ${cells.length}`);
    }
    const values = columns.map((name, k) => (name === "label" ? null : number(cells, k, row, name)));
    columns.forEach((name, k) => {
      const value = values[k];
      if ((name === "x1" || name === "x2") && Math.abs(value) > coordinate) {
        throw new Error(`row ${row}: ${name} = ${value} is outside the plane (−${coordinate} to ${coordinate})`);
      }
      if (name === "y" && Math.abs(value) > target) {
        throw new Error(`row ${row}: y = ${value} is outside the targets' range (−${target} to ${target})`);
      }
    });
    if (kind === "classes") {
      const label = Number(cells[2]);
      if (!Number.isInteger(label) || label < 0 || label >= classes) {
        throw new Error(`row ${row}: label "${cells[2]}" must be a whole number from 0 to ${classes - 1}`);
      }
      values[2] = label;
    }
    points.push(values);
  });
  if (!points.length) throw new Error(`the file holds no rows of ${columns.join(",")}`);
  return points;
}

export function toCsv(points, kind = "classes") {
  return [COLUMNS[kind].join(","), ...points.map((p) => p.join(","))].join("\n") + "\n";
}
