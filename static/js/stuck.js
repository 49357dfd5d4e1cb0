// Stuck runs: the diagnosis, the gradient-norm chart, the seeds tried on this page and the
// seed sweep with its gallery. Reads the store; the gallery and chips carry their seed.
import { drawGradChart, drawLossChart } from "./charts.js";
import { renderDiagnosis } from "./diagnosis.js";
import { set } from "./store.js";
import { renderGallery, renderSeedHistory, sweptPoints } from "./sweep.js";
import { score, targetLimit, taskOf } from "./task.js";

const $ = (id) => document.getElementById(id);

export function bindStuckRuns({ store, socket, token, session, showError }) {
  const seedKey = `backprop-lab:seeds:${session}`;
  let kept = [];
  try { kept = JSON.parse(sessionStorage.getItem(seedKey)) || []; } catch { /* a damaged entry starts a new history */ }
  set(store, "seeds", kept);

  function loadSeed(seed, origin) {
    const final = store.sweep?.final;
    // a sweep's seed is loaded with the config it was swept with, which may since have changed
    if (final && final.results.some((r) => r.weight_seed === seed)) {
      socket.send({ type: "configure", config: { ...final.config, weight_seed: seed } }, origin);
    } else {
      socket.send({ type: "randomize", weight_seed: seed }, origin);
    }
  }
  $("seed-history").addEventListener("click", (e) => {
    const chip = e.target.closest("button[data-seed]");
    if (chip && token) socket.send({ type: "randomize", weight_seed: +chip.dataset.seed }, chip);
  });
  $("sweep").addEventListener("click", () => {
    const iterations = parseInt($("sweep-iterations").value, 10);
    if (!Number.isFinite(iterations)) { showError("iterations each needs a whole number", $("sweep-iterations")); return; }
    socket.send({ type: "sweep", count: +$("sweep-count").value, iterations }, $("sweep"));
  });
  $("sweep-cancel").addEventListener("click", () => socket.send({ type: "sweep_cancel" }, $("sweep-cancel")));
  $("gallery-toggle").addEventListener("change", (e) => set(store, "galleryOpen", e.target.checked));
  // the gallery's sort and filter are this page's own view of the sweep, kept in the store
  $("gallery").addEventListener("change", (e) => {
    if (e.target.matches(".gallery-sort")) set(store, "gallerySort", e.target.value);
    if (e.target.matches(".gallery-filter")) set(store, "galleryFilter", e.target.value);
  });
  $("gallery").addEventListener("click", (e) => {
    if (e.target.closest(".gallery-close")) { set(store, "galleryOpen", false); return; }
    const picked = e.target.closest("button[data-seed]");
    if (!picked || !token) return;
    loadSeed(+picked.dataset.seed, picked);
    set(store, "galleryOpen", false);
  });

  // DOM panels are rebuilt only when what they show has changed
  const drawn = { diagnosis: "", seeds: "", gallery: null, gradChart: "", lossChart: "" };
  const sizeOf = (canvas) => `${canvas.clientWidth}x${canvas.clientHeight}`;

  return {
    paint() {
      const s = store.state;
      const fit = score(store); // the share right, or R²: below 0.9 either way is not there yet
      const findings = JSON.stringify([s?.diagnostics?.findings ?? null, fit !== null && fit < 0.9]);
      if (findings !== drawn.diagnosis) {
        drawn.diagnosis = findings;
        renderDiagnosis($("diagnosis"), s?.diagnostics, fit);
      }
      // the charts change only with a new point or a new size: most frames skip them
      const h = store.history, lossKey = `${h.length}:${h.at(-1)?.iteration}:${h.at(-1)?.loss}:${sizeOf($("chart"))}:${store.presenting}`;
      if (lossKey !== drawn.lossChart) { drawn.lossChart = lossKey; drawLossChart($("chart"), store); }
      const g = store.gradHistory, gradKey = `${g.length}:${g.at(-1)?.iteration}:${g.at(-1)?.norms}:${sizeOf($("grad-chart"))}:${store.presenting}`;
      if (gradKey !== drawn.gradChart) { drawn.gradChart = gradKey; drawGradChart($("grad-chart"), store); }

      const current = store.config?.weight_seed;
      const seeds = JSON.stringify([store.seeds, current]);
      if (seeds !== drawn.seeds) {
        drawn.seeds = seeds;
        renderSeedHistory($("seed-history"), store.seeds, current, !token);
        $("seed-history-hint").hidden = store.seeds.length < 2;
        sessionStorage.setItem(seedKey, JSON.stringify(store.seeds));
      }
      const sweep = store.sweep;
      const running = Boolean(sweep && !sweep.final);
      $("sweep-status").hidden = !running;
      $("sweep").disabled = !token || running;
      if (running) $("sweep-progress").value = sweep.total ? sweep.done / sweep.total : 0;
      $("sweep-cancel").disabled = !token || Boolean(sweep?.cancelling);
      $("gallery-toggle").checked = store.galleryOpen;
      $("gallery").hidden = !store.galleryOpen;
      const key = [sweep, current, store.galleryOpen, store.gallerySort, store.galleryFilter, store.config, store.dataset];
      if (store.galleryOpen && (drawn.gallery === null || key.some((v, k) => v !== drawn.gallery[k]))) {
        drawn.gallery = key;
        const points = sweptPoints(sweep?.final, store.config, store.dataset);
        const swept = { kind: taskOf(sweep?.final?.config?.dataset?.name, store.hello?.choices), limit: targetLimit(store) };
        renderGallery($("gallery"), sweep, current, !token, { sort: store.gallerySort, filter: store.galleryFilter }, points,
          swept);
      }
    },
  };
}
