// The seed sweep and the seed history: a gallery of every seed's final boundary with its loss,
// accuracy and verdict, and the seeds this page has tried. Reads the store; writes only into
// its own elements. Picking a seed is main.js's business: cards carry it in data-seed.
import { el } from "./dom.js";
import { metric as num, percent } from "./format.js";
import { paintBoundary } from "./render.js";

const RANK = { stuck: 0, diverged: 1, ok: 2 };
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

function card(result, thumbnail, resolution, channels, current, readOnly) {
  const box = el("button", `seed-card ${result.verdict}${result.weight_seed === current ? " current" : ""}`);
  box.type = "button";
  box.dataset.seed = String(result.weight_seed);
  box.disabled = readOnly;
  box.title = readOnly ? "" : `Load weight seed ${result.weight_seed} at iteration 0`;
  const picture = el("canvas", "seed-thumb");
  if (thumbnail) paintBoundary({ resolution, channels, boundary: thumbnail }, picture);
  const head = el("div", "seed-head");
  head.append(el("b", null, `seed ${result.weight_seed}`), el("span", `badge ${result.verdict}`, result.verdict));
  box.append(picture, head,
    el("div", "seed-numbers", `train ${pct(result.accuracy)} · test ${pct(result.test_accuracy)}`),
    el("div", "seed-numbers", `loss ${num(result.loss)}`));
  if (result.verdict !== "ok") box.append(el("div", "seed-reason", result.reason)); // "ok" says it already
  return box;
}

/** The gallery: one card per finished seed (in seed order once the sweep is over), then the ones still training. */
export function renderGallery(box, sweep, currentSeed, readOnly) {
  box.replaceChildren();
  const head = el("div", "gallery-head");
  head.append(el("h3", null, sweep ? summary(sweep) : "No sweep yet"));
  const close = el("button", "gallery-close", "×");
  close.type = "button";
  close.setAttribute("aria-label", "Close the sweep gallery");
  head.append(close);
  box.append(head);
  if (!sweep) {
    box.append(el("p", "hint", "Sweep seeds (left) trains the current network from many starting weights at once."));
    return;
  }
  box.append(el("p", "hint", `Stuck and diverged seeds come first.${readOnly ? ""
    : " Click a seed to load it at iteration 0 and watch what happens to it."}`));
  const cards = el("div", "gallery-cards");
  const thumbs = sweep.thumbnails;
  const shown = sweep.results.map((result, k) => ({ result, picture: thumbs && sweep.final ? thumbs.boundaries[k] : null }));
  shown.sort((a, b) => RANK[a.result.verdict] - RANK[b.result.verdict]); // stable: seed order within a verdict
  for (const { result, picture } of shown) {
    cards.append(card(result, picture, thumbs?.resolution, thumbs?.channels, currentSeed, readOnly));
  }
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
