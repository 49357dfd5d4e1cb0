// The seed sweep and the seed history: a gallery of every seed's final boundary with its loss,
// accuracy and verdict, and the seeds this page has tried. Reads the store; writes only into
// its own elements. Picking a seed is main.js's business: cards carry it in data-seed.
import { el } from "./dom.js";
import { metric as num, percent } from "./format.js";
import { drawPoints, paintBoundary } from "./render.js";

const RANK = { stuck: 0, diverged: 1, ok: 2 };
const THUMB = 128; // backing pixels of a thumbnail: enough for points to be dots, not smears
const SORTS = {
  verdict: { words: "verdict", by: (a, b) => RANK[a.verdict] - RANK[b.verdict] },
  loss: { words: "final loss", by: (a, b) => lossOrder(a.loss) - lossOrder(b.loss) },
  test: { words: "test accuracy", by: (a, b) => (b.test_accuracy ?? -1) - (a.test_accuracy ?? -1) },
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

function summary(sweep) {
  const counts = { ok: 0, stuck: 0, diverged: 0 };
  for (const r of sweep.results) counts[r.verdict] += 1;
  const parts = [`${counts.ok} ok`, `${counts.stuck} stuck`, `${counts.diverged} diverged`];
  if (sweep.final?.failed) return `Stopped: a sweep worker failed after ${sweep.results.length} of ${sweep.total} seeds (${parts.join(", ")}); sweep again to retry`;
  if (sweep.final?.cancelled) return `Cancelled after ${sweep.results.length} of ${sweep.total} seeds: ${parts.join(", ")}`;
  if (sweep.final) return `${sweep.total} seeds × ${sweep.final.iterations} iterations: ${parts.join(", ")}`;
  return `Training ${sweep.done} of ${sweep.total} seeds… ${parts.join(", ")} so far`;
}

/** One thumbnail: the boundary scaled up, the training points on top in their class colours. */
function paintThumb(picture, thumbnail, thumbs, points) {
  const boundary = document.createElement("canvas");
  paintBoundary({ resolution: thumbs.resolution, channels: thumbs.channels, boundary: thumbnail }, boundary);
  picture.width = picture.height = THUMB;
  const ctx = picture.getContext("2d");
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(boundary, 0, 0, THUMB, THUMB);
  if (points) drawPoints(ctx, points, thumbs.extent || 6, THUMB, 2.2);
}

function card(result, thumbnail, thumbs, points, current, readOnly) {
  const box = el("button", `seed-card ${result.verdict}${result.weight_seed === current ? " current" : ""}`);
  box.type = "button";
  box.dataset.seed = String(result.weight_seed);
  box.disabled = readOnly;
  box.title = readOnly ? "" : `Load weight seed ${result.weight_seed} at iteration 0`;
  const picture = el("canvas", "seed-thumb");
  if (thumbnail) paintThumb(picture, thumbnail, thumbs, points);
  const head = el("div", "seed-head");
  head.append(el("b", null, `seed ${result.weight_seed}`), el("span", `badge ${result.verdict}`, result.verdict));
  box.append(picture, head,
    el("div", "seed-numbers", `train ${pct(result.accuracy)} · test ${pct(result.test_accuracy)}`),
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
 * training points drawn on each thumbnail, or null when they are not the sweep's. */
export function renderGallery(box, sweep, currentSeed, readOnly, view = { sort: "verdict", filter: "all" }, points = null) {
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
    cards.append(card(result, picture, thumbs, points, currentSeed, readOnly));
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
    chip.textContent = entry.accuracy === null ? `${entry.seed}` : `${entry.seed} · ${pct(entry.accuracy)}`;
    chip.title = `weight seed ${entry.seed}: ${pct(entry.accuracy)} training accuracy at iteration ${entry.iteration}`;
    box.append(chip);
  }
}
