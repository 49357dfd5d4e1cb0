// The seed sweep and the seed history: a gallery of every seed's final boundary with its loss,
// accuracy and verdict, and the seeds this page has tried. Reads the store; writes only into
// its own elements. Picking a seed is main.js's business: cards carry it in data-seed.
import { el } from "./dom.js";
import { drawCurveThumb } from "./curve.js";
import { metric as num, percent, rSquared } from "./format.js";
import { drawPoints, paintBoundary } from "./render.js";

const RANK = { stuck: 0, diverged: 1, ok: 2 };
const THUMB = 128; // backing pixels of a thumbnail: enough for points to be dots, not smears
const SORTS = {
  verdict: { words: "verdict", by: (a, b) => RANK[a.verdict] - RANK[b.verdict] },
  loss: { words: "final loss", by: (a, b) => lossOrder(a.loss) - lossOrder(b.loss) },
  test: { words: "test score", by: (a, b) => testScore(b) - testScore(a) },
};
export const FILTERS = ["all", "stuck", "diverged", "ok"];
// a diverged seed has no loss (null on the wire): it sorts after every finite one
const lossOrder = (loss) => (loss === null || loss === undefined || !Number.isFinite(loss) ? Infinity : loss);

/** The points a sweep trained on, if they are the ones the page holds: the sweep ran on the
 * config it carries, and the page only has the current dataset's points. If the data has changed
 * since, drawing today's points over yesterday's boundaries would show a fit that never happened. */
export function sweptPoints(final, config, dataset) {
  const swept = final?.config?.dataset, now = config?.dataset;
  if (!swept || !now || !dataset) return null;
  const keys = ["name", "seed", "n", "noise", "classes", "test_fraction"];
  if (keys.some((k) => swept[k] !== now[k])) return null;
  if (JSON.stringify(swept.points ?? null) !== JSON.stringify(now.points ?? null)) return null;
  return dataset.train;
}
const pct = (v) => percent(v, 0);
// a seed's score: the share right, or a regression's R² (which can be far below 0)
const testScore = (r) => r.test_accuracy ?? r.test_r2 ?? -Infinity;
const scores = (r) => (r.accuracy === null && r.r2 !== undefined && r.r2 !== null
  ? `train R² ${rSquared(r.r2)} · test R² ${rSquared(r.test_r2)}` : `train ${pct(r.accuracy)} · test ${pct(r.test_accuracy)}`);

function summary(sweep) {
  const counts = { ok: 0, stuck: 0, diverged: 0 };
  for (const r of sweep.results) counts[r.verdict] += 1;
  const parts = [`${counts.ok} ok`, `${counts.stuck} stuck`, `${counts.diverged} diverged`];
  if (sweep.final?.failed) return `Stopped: a sweep worker failed after ${sweep.results.length} of ${sweep.total} seeds (${parts.join(", ")}); sweep again to retry`;
  if (sweep.final?.cancelled) return `Cancelled after ${sweep.results.length} of ${sweep.total} seeds: ${parts.join(", ")}`;
  if (sweep.final) return `${sweep.total} seeds × ${sweep.final.iterations} iterations: ${parts.join(", ")}`;
  return `Training ${sweep.done} of ${sweep.total} seeds… ${parts.join(", ")} so far`;
}

/** One thumbnail: the boundary (or fitted surface) scaled up, the training points on top; a
 * curve's fit as its line. `fit`: the sweep's task and a regression target's size. */
function paintThumb(picture, thumbnail, thumbs, points, fit) {
  picture.width = picture.height = THUMB;
  const ctx = picture.getContext("2d");
  const extent = thumbs.extent || 6;
  if (fit.kind === "curve") {
    drawCurveThumb(ctx, THUMB, thumbnail, thumbs.resolution, extent, fit.limit, points);
    return;
  }
  const boundary = document.createElement("canvas");
  paintBoundary({ resolution: thumbs.resolution, channels: thumbs.channels, boundary: thumbnail }, boundary);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(boundary, 0, 0, THUMB, THUMB);
  if (points) drawPoints(ctx, points, extent, THUMB, 2.2, fit.kind === "surface" ? fit.limit : 0);
}

function card(result, thumbnail, thumbs, points, current, readOnly, fit) {
  const box = el("button", `seed-card ${result.verdict}${result.weight_seed === current ? " current" : ""}`);
  box.type = "button";
  box.dataset.seed = String(result.weight_seed);
  box.disabled = readOnly;
  box.title = readOnly ? "" : `Load weight seed ${result.weight_seed} at iteration 0`;
  const picture = el("canvas", "seed-thumb");
  if (thumbnail) paintThumb(picture, thumbnail, thumbs, points, fit);
  const head = el("div", "seed-head");
  head.append(el("b", null, `seed ${result.weight_seed}`), el("span", `badge ${result.verdict}`, result.verdict));
  box.append(picture, head,
    el("div", "seed-numbers", scores(result)),
    el("div", "seed-numbers", `loss ${num(result.loss)}`));
  if (result.verdict !== "ok") box.append(el("div", "seed-reason", result.reason)); // "ok" says it already
  return box;
}

/** The gallery head's small controls: sort by, show which verdicts. */
function viewControls(view) {
  const box = el("div", "gallery-view");
  const sort = el("select", "gallery-sort");
  sort.setAttribute("aria-label", "Sort seeds by");
  for (const [value, { words }] of Object.entries(SORTS)) sort.append(new Option(words, value, false, value === view.sort));
  const filter = el("select", "gallery-filter");
  filter.setAttribute("aria-label", "Show seeds");
  for (const value of FILTERS) filter.append(new Option(value === "all" ? "all" : `${value} only`, value, false, value === view.filter));
  const sortLabel = el("label", "inline", "sort "), filterLabel = el("label", "inline", "show ");
  sortLabel.append(sort); filterLabel.append(filter);
  box.append(sortLabel, filterLabel);
  return box;
}

/** The gallery: one card per finished seed, sorted and filtered as `view` says (by verdict, stuck
 * first, by default; seed order within ties), then the ones still training. `points` are the
 * training points drawn on each thumbnail, or null when they are not the sweep's; `fit` the
 * sweep's task ("classes", "surface" or "curve") and a regression target's size. */
export function renderGallery(box, sweep, currentSeed, readOnly, view = { sort: "verdict", filter: "all" }, points = null,
  fit = { kind: "classes", limit: 6 }) {
  box.replaceChildren();
  const head = el("div", "gallery-head");
  head.append(el("h3", null, sweep ? summary(sweep) : "No sweep yet"));
  if (sweep) head.append(viewControls(view));
  const close = el("button", "gallery-close", "×");
  close.type = "button";
  close.setAttribute("aria-label", "Close the sweep gallery");
  head.append(close);
  box.append(head);
  if (!sweep) {
    box.append(el("p", "hint", "Sweep seeds (left) trains the current network from many starting weights at once."));
    return;
  }
  const order = view.sort === "verdict" ? "Stuck and diverged seeds come first" : `Best ${SORTS[view.sort].words} first`;
  box.append(el("p", "hint", `${order}.${points ? "" : " The data has changed since this sweep, so its points are not drawn."}${readOnly ? ""
    : " Click a seed to load it at iteration 0 and watch what happens to it."}`));
  const cards = el("div", "gallery-cards");
  const thumbs = sweep.thumbnails;
  const shown = sweep.results.map((result, k) => ({ result, picture: thumbs && sweep.final ? thumbs.boundaries[k] : null }))
    .filter(({ result }) => view.filter === "all" || result.verdict === view.filter);
  shown.sort((a, b) => SORTS[view.sort].by(a.result, b.result)); // stable: seed order within ties
  for (const { result, picture } of shown) {
    cards.append(card(result, picture, thumbs, points, currentSeed, readOnly, fit));
  }
  if (!shown.length && sweep.results.length) cards.append(el("p", "hint", `No ${view.filter} seeds in this sweep.`));
  const waiting = sweep.final ? 0 : sweep.total - sweep.results.length;
  for (let k = 0; k < waiting; k++) cards.append(el("div", "seed-card waiting", "training…"));
  box.append(cards);
}

/** The seeds tried on this page, newest first: click one to go back to it. */
export function renderSeedHistory(box, seeds, currentSeed, readOnly) {
  box.replaceChildren();
  for (const entry of seeds) {
    const chip = el("button", `seed-chip${entry.seed === currentSeed ? " current" : ""}${entry.status === "diverged" ? " diverged" : ""}`);
    chip.type = "button";
    chip.dataset.seed = String(entry.seed);
    chip.disabled = readOnly || entry.seed === currentSeed;
    const [said, words] = entry.accuracy === null && entry.r2 !== null && entry.r2 !== undefined
      ? [`R² ${rSquared(entry.r2)}`, `R² ${rSquared(entry.r2)}`] : [pct(entry.accuracy), `${pct(entry.accuracy)} training accuracy`];
    chip.textContent = said === "–" ? `${entry.seed}` : `${entry.seed} · ${said}`;
    chip.title = `weight seed ${entry.seed}: ${words} at iteration ${entry.iteration}`;
    box.append(chip);
  }
}
