// Classroom mode: the lesson and its notes, which panels show, the join link and QR code,
// "make my own copy", and saving, sharing and importing scenarios.
// Titles and notes are other people's words: they only ever go in as text.
import { set } from "./store.js";

const $ = (id) => document.getElementById(id);

const OWNER = "backprop-lab:owner";

/** This browser's key to its own saved scenarios: 128 random bits, URL-safe, kept in
 * localStorage. Anyone holding it can list and delete them, so it never leaves this origin
 * except in the X-Backprop-Owner header. Without storage (private mode) it lasts as long as the page. */
function ownerKey() {
  try {
    const kept = localStorage.getItem(OWNER);
    if (kept && /^[A-Za-z0-9_-]{16,128}$/.test(kept)) return kept;
  } catch { /* no storage: a key for this page only */ }
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const key = btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  try { localStorage.setItem(OWNER, key); } catch { /* as above */ }
  return key;
}

/** The hideable panels, named by the page itself (`data-panel`), in page order. */
export const PANELS = [...new Set([...document.querySelectorAll("[data-panel]")].map((el) => el.dataset.panel))];

const PANEL_LABELS = { controls: "settings", inspector: "inspector", legend: "colour scale", metrics: "numbers",
  diagnosis: "diagnosis", charts: "charts", boundary: "boundary", "custom-data": "point tools" };

/** Show the session's presentation: hidden panels, the lesson step, its title and notes. */
export function renderScene(presentation, { present, viewers, control }) {
  const p = presentation || { hidden: [], title: "", notes: "", lesson: null };
  const hidden = new Set(p.hidden);
  for (const el of document.querySelectorAll("[data-panel]")) el.hidden = hidden.has(el.dataset.panel);
  document.body.classList.toggle("no-controls", hidden.has("controls"));
  for (const box of document.querySelectorAll("#panel-toggles input")) box.checked = !hidden.has(box.value);
  const lesson = p.lesson;
  $("scene-where").textContent = lesson ? `${lesson.title} · step ${lesson.step + 1} of ${lesson.steps}` : "";
  $("scene-title").textContent = p.title || "";
  $("scene-notes").textContent = p.notes || "";
  $("scene").hidden = !((present && control) || p.title || p.notes || lesson); // a presenter's strip holds the join box
  $("panels-menu").hidden = !control; // every page that drives a run can choose its panels; viewers follow
  $("join").hidden = !present || !control;
  $("viewers").textContent = viewers === 1 ? "1 watching" : `${viewers} watching`;
  $("lesson-prev").hidden = $("lesson-next").hidden = !lesson;
  $("lesson-prev").disabled = !control || !lesson || lesson.step === 0;
  $("lesson-next").disabled = !control || !lesson || lesson.step >= lesson.steps - 1;
  $("fullscreen").hidden = !present;
  if (lesson && $("lesson").value !== lesson.id) $("lesson").value = lesson.id;
}

export function bindClassroom({ store, socket, session, token, present }) {
  const control = Boolean(token);

  for (const name of PANELS) {
    const label = document.createElement("label");
    const box = Object.assign(document.createElement("input"), { type: "checkbox", value: name, checked: true });
    box.setAttribute("aria-label", `Show ${PANEL_LABELS[name] || name}`);
    label.append(box, ` ${PANEL_LABELS[name] || name}`);
    $("panel-toggles").append(label);
  }
  $("panel-toggles").addEventListener("change", () => {
    const hidden = [...document.querySelectorAll("#panel-toggles input")].filter((b) => !b.checked).map((b) => b.value);
    socket.send({ type: "hide", panels: hidden }, $("panel-toggles"));
  });

  // --- lessons ------------------------------------------------------------------------------
  fetch("/api/lessons").then((r) => r.json()).then((lessons) => {
    set(store, "lessons", lessons); // their steps' questions are asked as the run reaches them
    for (const l of lessons) $("lesson").append(new Option(`${l.title} (${l.steps.length} steps)`, l.id));
    if (store.presentation?.lesson) $("lesson").value = store.presentation.lesson.id;
  }).catch(() => {});
  $("lesson").disabled = !control;
  $("lesson").addEventListener("change", (e) => {
    if (e.target.value) socket.send({ type: "load", lesson: e.target.value, step: 0 }, e.target);
  });
  function moveLesson(by) {
    const lesson = store.presentation?.lesson;
    if (!control || !lesson) return;
    const step = lesson.step + by;
    if (step >= 0 && step < lesson.steps) socket.send({ type: "load", lesson: lesson.id, step }, $("lesson"));
  }
  $("lesson-prev").addEventListener("click", () => moveLesson(-1));
  $("lesson-next").addEventListener("click", () => moveLesson(1));

  // --- the presenter's link: which lesson step and panels, never the token ------------------
  /** Keep the address bar saying where the lesson is, so a reload (or a bookmark) comes back here. */
  function writeLink(presentation) {
    if (!present || !control) return;
    const query = new URLSearchParams();
    if (presentation.hidden.length) query.set("hide", presentation.hidden.join(","));
    if (presentation.lesson) { query.set("lesson", presentation.lesson.id); query.set("step", presentation.lesson.step); }
    const search = query.toString() ? `?${query}` : "";
    if (location.search !== search) history.replaceState(null, "", `${location.pathname}${search}${location.hash}`);
  }

  /** On first contact the link wins: its lesson step, then its hidden panels. */
  let first = true;
  function applyLink(presentation, applyHash) {
    const { lesson, step, hidden } = document.body.dataset;
    if (lesson && !(presentation.lesson?.id === lesson && presentation.lesson.step === +step)) {
      socket.send({ type: "load", lesson, step: +step || 0 }, $("lesson"));
    } else if (!presentation.scenario && !presentation.lesson) {
      applyHash(); // a scenario or lesson step is exactly what it says: the config in the link must not reset it
    }
    const wanted = hidden ? hidden.split(",") : null;
    if (wanted && wanted.join(",") !== presentation.hidden.join(",")) socket.send({ type: "hide", panels: wanted }, null);
  }

  // --- joining ------------------------------------------------------------------------------
  if (present && control) {
    // asked once the socket says hello: a presenter page's session is made only when it connects
    let asked = false;
    socket.listen((message) => {
      if (message.type !== "hello" || asked) return;
      asked = true;
      fetch(`/api/sessions/${session}/join`).then((r) => r.json()).then((join) => {
        $("join-url").textContent = join.url.replace(/^https?:\/\//, "");
        $("join-qr").src = join.qr;
      }).catch(() => { asked = false; });
    });
  }
  $("fork").hidden = control;
  $("fork").addEventListener("click", async () => {
    $("fork").disabled = true;
    try {
      const response = await fetch(`/api/sessions/${session}/fork`, { method: "POST" });
      const body = await response.json();
      if (!response.ok) throw new Error(body.error?.message || response.statusText);
      location.assign(`/s/${body.id}?token=${encodeURIComponent(body.token)}`);
    } catch (error) {
      $("fork").disabled = false;
      alert(`Could not make a copy: ${error.message}`);
    }
  });
  const presentLink = $("present-link");
  presentLink.href = `/present/${session}` + (control ? `?token=${encodeURIComponent(token)}` : "");
  presentLink.hidden = present || !control; // a viewer on a phone needs room for "Make my own copy"

  // --- saving, sharing, importing -----------------------------------------------------------
  const dialog = $("save-dialog");
  const owner = ownerKey();
  const savedList = $("saved-list");
  const openSaved = Object.assign(document.createElement("button"), { type: "button", id: "saved-open",
    textContent: "Open", disabled: true });
  const deleteSaved = Object.assign(document.createElement("button"), { type: "button", id: "saved-delete",
    textContent: "Delete", disabled: true });
  deleteSaved.setAttribute("aria-label", "Delete the chosen scenario");
  const savedButtons = Object.assign(document.createElement("div"), { className: "dialog-buttons" });
  savedButtons.append(openSaved, deleteSaved);
  savedList.closest("label").after(savedButtons);

  /** Ask the server about scenarios; its JSON answer, or an Error carrying its message (`told`:
   * the server's own sentence, which says what failed). A body that is not JSON (a proxy's
   * page, a crash) becomes its status line, never a SyntaxError. */
  async function ask(path, options = {}) {
    let response;
    try {
      response = await fetch(path, { ...options, headers: { ...options.headers, "X-Backprop-Owner": owner } });
    } catch {
      throw new Error("the server could not be reached");
    }
    const text = await response.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch { /* not JSON: said below */ }
    if (!response.ok) {
      const told = body?.error?.message;
      throw Object.assign(new Error(told || `the server answered ${response.status} ${response.statusText}`.trim()),
        { told: Boolean(told) });
    }
    if (text && body === null) throw new Error("the server's answer was not JSON");
    return body;
  }
  const post = (body) => ask("/api/scenarios", { method: "POST", headers: { "content-type": "application/json" }, body });

  function showSaved(id) {
    set(store, "lastSaved", id); // offered again if the session ends (its server process stopped)
    $("save-result").hidden = false;
    $("save-link").href = `/scenario/${id}`;
    $("save-link").textContent = `${location.origin}/scenario/${id}`;
    $("save-export").href = `/api/scenarios/${id}?download=1`;
    $("save-error").hidden = true;
  }
  function saveError(text) {
    $("save-error").hidden = !text;
    $("save-error").textContent = text || "";
  }
  function chosen() {
    openSaved.disabled = deleteSaved.disabled = !savedList.value;
  }
  async function refreshSaved() {
    try {
      const items = await ask("/api/scenarios");
      savedList.replaceChildren(new Option(items.length ? "choose one…" : "none saved from this browser yet", ""),
        ...items.map((s) => new Option(`${s.title || "untitled"} · ${s.dataset} · iteration ${s.iteration}`, s.id)));
    } catch (error) {
      saveError(error.told ? error.message : `Could not list your saved scenarios: ${error.message}`);
    }
    chosen();
  }
  $("save-open").addEventListener("click", () => {
    $("save-title").value = store.presentation?.title || "";
    $("save-notes").value = store.presentation?.notes || "";
    $("save-result").hidden = true;
    saveError(null);
    refreshSaved();
    dialog.showModal();
  });
  $("save-close").addEventListener("click", () => dialog.close());
  $("save-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { session, title: $("save-title").value, notes: $("save-notes").value,
      hidden: store.presentation?.hidden || [] };
    try {
      showSaved((await post(JSON.stringify(body))).id);
      refreshSaved();
    } catch (error) {
      saveError(error.told ? error.message : `Could not save: ${error.message}`);
    }
  });
  $("scenario-import").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    e.target.value = "";
    if (!file) return;
    let answer;
    try {
      answer = await post(await file.text());
    } catch (error) {
      saveError(`${file.name}: ${error.message}`);
      return;
    }
    showSaved(answer.id);
    refreshSaved();
    if (control) socket.send({ type: "load", scenario: answer.id }, null);
  });
  savedList.addEventListener("change", chosen);
  openSaved.addEventListener("click", () => {
    const id = savedList.value;
    if (!id) return;
    saveError(null);
    // the dialog stays open until the server answers, so a refusal is read where it was asked for
    if (control) socket.send({ type: "load", scenario: id }, savedList); else location.assign(`/scenario/${id}`);
  });
  socket.listen((message, origin) => {
    if (origin !== savedList) return;
    if (message.type === "error") saveError(`Could not open it: ${message.message}`);
    else if (dialog.open) dialog.close();
  });
  deleteSaved.addEventListener("click", async () => {
    const option = savedList.selectedOptions[0];
    if (!option?.value || !confirm(`Delete "${option.text}"? Its share link will stop working.`)) return;
    try {
      await ask(`/api/scenarios/${encodeURIComponent(option.value)}`, { method: "DELETE" });
      saveError(null);
    } catch (error) {
      saveError(error.told ? error.message : `Could not delete it: ${error.message}`);
    }
    refreshSaved();
  });

  function toggleFullscreen() {
    if (document.fullscreenElement) document.exitFullscreen();
    else document.documentElement.requestFullscreen?.().catch(() => {});
  }
  $("fullscreen").addEventListener("click", toggleFullscreen);

  return {
    moveLesson, toggleFullscreen,
    onPresentation(presentation, applyHash) {
      if (first && control) { first = false; applyLink(presentation, applyHash); }
      writeLink(presentation);
    },
  };
}
