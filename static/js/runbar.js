// The run bar: reset, play, step and back, the speed, the counters, and the keys that drive a
// run. → and ← always step, wherever the focus is, unless the learner is typing in a field.
import { set } from "./store.js";

const $ = (id) => document.getElementById(id);

/** Elements where the arrow keys belong to the text being typed. */
const TYPING = "input[type=text], input[type=number], input:not([type]), textarea, [contenteditable]";

export function bindRunBar({ store, socket, token, classroom, graph, predict }) {
  const speedFromSlider = () => Math.round(10 ** +$("speed").value);
  const showSpeed = () => { $("speed-out").textContent = `${speedFromSlider()}/s`; };
  showSpeed();
  $("speed").addEventListener("input", () => {
    showSpeed();
    if (store.state?.playing) socket.send({ type: "play", speed: speedFromSlider() }, $("speed"));
  });

  function togglePlay() {
    if (store.state?.playing) socket.send({ type: "pause" }, $("play"));
    else socket.send({ type: "play", speed: speedFromSlider() }, $("play"));
  }
  function step(unit) {
    const chosen = unit || $("step-unit").value;
    if (chosen === "op" && predict.askFirst()) return;
    socket.send({ type: "step", unit: chosen }, $("step"));
  }
  function back() { if (store.state?.can_back) socket.send({ type: "back" }, $("back")); }
  function randomize() { socket.send({ type: "randomize" }, $("randomize")); }

  $("play").addEventListener("click", togglePlay);
  $("step").addEventListener("click", () => step());
  $("back").addEventListener("click", back);
  $("randomize").addEventListener("click", randomize);
  $("reset").addEventListener("click", () => socket.send({ type: "randomize", weight_seed: store.config?.weight_seed ?? 0 }, $("reset")));

  // the step units come from the server's hello; op stays the default: one op is what teaches
  socket.listen((message) => {
    if (message.type !== "hello" || !message.choices) return;
    const select = $("step-unit");
    const chosen = select.value || "op";
    select.replaceChildren(...message.choices.step_units.map((u) => new Option(u, u, u === chosen, u === chosen)));
  });

  // capture: a focused select or slider must not take the arrow keys for itself
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.target.closest?.(TYPING) || e.target.closest?.("dialog")) return;
    const arrow = e.key === "ArrowRight" || e.key === "ArrowLeft";
    if (!arrow && e.target.closest?.("select, input[type=range]")) return;
    if (e.key === "f") { classroom.toggleFullscreen(); return; }
    if (e.key === "Escape") { set(store, "drawerOpen", false); return; }
    if (!token) { if (arrow) e.preventDefault(); return; }
    if (e.key === " " && !e.target.closest("button, summary, input[type=checkbox], input[type=radio]")) { e.preventDefault(); togglePlay(); }
    else if (e.key === "ArrowRight") { e.preventDefault(); step(e.shiftKey ? "layer" : "op"); }
    else if (e.key === "ArrowLeft") { e.preventDefault(); back(); }
    else if (e.key === "r") randomize();
    else if (e.key === "g") graph.toggleView();
    else if (e.key === "PageDown") { e.preventDefault(); classroom.moveLesson(1); }
    else if (e.key === "PageUp") { e.preventDefault(); classroom.moveLesson(-1); }
  }, true);

  function showBanner(text, link = null) {
    const banner = $("banner");
    banner.hidden = !text;
    banner.textContent = text || "";
    if (text && link) {
      const a = document.createElement("a");
      a.href = link.href;
      a.textContent = link.text;
      banner.append(" ", a);
    }
  }

  /** A presenter whose session ended is offered the last scenario saved here, or the one it was loaded from. */
  function lastScenario() {
    const id = store.lastSaved || store.presentation?.scenario;
    return token && id ? { href: `/scenario/${encodeURIComponent(id)}`, text: "Open the last saved scenario ›" } : null;
  }
  return {
    showBanner,
    paint() {
      const s = store.state;
      $("connection").textContent = { open: store.role === "control" ? "live · control" : "live · view only",
        down: "reconnecting…", gone: "session ended", connecting: "connecting…" }[store.connection];
      $("connection").title = store.connection === "down" ? "The server cannot be reached; the page keeps trying." : "";
      $("connection").classList.toggle("down", store.connection !== "open");
      if (!s) return;
      $("iteration").textContent = s.iteration;
      $("epoch").textContent = s.epoch;
      $("phase").textContent = s.phase;
      $("phase").className = `phase ${s.phase}`;
      $("back").disabled = !token || !s.can_back || s.playing;
      $("play").classList.toggle("playing", s.playing);  // the glyph is drawn in CSS: fonts may lack ⏸
      $("play").setAttribute("aria-label", s.playing ? "Pause" : "Play");
      if (s.status === "diverged") {
        showBanner(`The run diverged at iteration ${s.diverged_at}: a weight or gradient became infinite. `
          + "Lower the learning rate, then re-randomize.");
      } else if (store.connection === "gone") {
        const reason = store.goneReason || "";
        const why = reason && `${reason[0].toUpperCase()}${reason.slice(1)}${/[.!?]$/.test(reason) ? "" : "."}`;
        showBanner(`${why || "This session no longer exists."} Reload the page to start a new one.`, lastScenario());
      } else {
        showBanner(null);
      }
    },
  };
}
