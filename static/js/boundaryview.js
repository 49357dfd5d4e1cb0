// The output panel: the decision boundary with its points, the example the network follows,
// the numbers, and the custom-data tools. A click or tap on a training point follows that
// example (`select`); adding and removing points is a mode of its own, switched on explicitly.
import { metric } from "./format.js";
import { COLUMNS, currentPoints, customConfig, nearest, parseCsv, toCsv } from "./points.js";
import { planeMapping } from "./canvas.js";
import { drawBoundary, pointRadius } from "./render.js";
import { css, POS } from "./colors.js";
import { pieceColor } from "./curve.js";
import { set } from "./store.js";
import { panelTitle, pointWords, score, scoreName, scoreText, targetLimit, task } from "./task.js";

const $ = (id) => document.getElementById(id);

export function bindBoundary({ store, socket, token }) {
  const canvas = $("boundary");

  /** Where the pointer is on the canvas, and the plane's mapping at the canvas's size now. */
  function pointer(event) {
    const rect = canvas.getBoundingClientRect();
    return { x: event.clientX - rect.left, y: event.clientY - rect.top, width: rect.width,
      m: planeMapping(store.grid?.extent || 6, rect.width, rect.height) };
  }

  const planeAt = (event) => {
    const { x, y, m } = pointer(event);
    return [Math.round(m.fromX(x) * 100) / 100, Math.round(m.fromY(y) * 100) / 100];
  };

  /** The training example drawn under the pointer (a finger reaches a little further), or -1. */
  function exampleAt(event) {
    const train = store.dataset?.train;
    if (!train?.length) return -1;
    const { x, y, width, m } = pointer(event);
    const reach = Math.max(pointRadius(width, store) * 2.2, event.pointerType === "touch" ? 18 : 9);
    let best = -1, bestD = reach;
    train.forEach(([x1, x2], i) => {
      const d = Math.hypot(m.toX(x1) - x, m.toY(x2) - y);
      if (d <= bestD) { bestD = d; best = i; }
    });
    return best;
  }

  /** Send the whole point list, unless the message would be larger than the server takes: then
   * say so here rather than have the server close the connection. */
  function sendPoints(points, origin) {
    if (!token) return true;
    const command = { type: "configure", config: customConfig(points, store.config, task(store)), id: 0 };
    const bytes = new TextEncoder().encode(JSON.stringify(command)).length;
    const most = store.hello?.limits?.message_bytes ?? Infinity;
    if (bytes > most) {
      csvError(`${points.length} points make a message of ${Math.ceil(bytes / 1024)} KB; the server takes at most `
        + `${Math.floor(most / 1024)} KB (about ${Math.floor((points.length * most) / bytes)} points like these)`);
      return false;
    }
    socket.send({ type: "configure", config: command.config }, origin);
    return true;
  }
  function csvError(text) {
    $("csv-error").hidden = !text;
    $("csv-error").textContent = text || "";
  }

  /** The points a change starts from: none while the custom data is empty, else the dataset's. */
  const basePoints = () => (store.emptyCustom ? [] : currentPoints(store.config, store.dataset));

  /** Leave the page with no points, adding: the server needs at least one, so the first click
   * on the plot sends the custom dataset with just that point. */
  function startEmpty() {
    set(store, "emptyCustom", true);
    set(store, "adding", true);
    csvError(null);
  }
  $("custom-keep").addEventListener("click", (e) => {
    if (sendPoints(currentPoints(store.config, store.dataset), e.currentTarget)) $("custom-choice").hidden = true;
  });
  $("custom-empty").addEventListener("click", () => { $("custom-choice").hidden = true; startEmpty(); });
  $("points-clear").addEventListener("click", startEmpty);

  /** The point a click adds: on a curve, x1 across and y up; on a surface, the value the slider
   * says; for classes, the chosen class (shift: the next one round). */
  function newPoint(e) {
    const [x, y] = planeAt(e), kind = task(store);
    if (kind === "curve") return [x, y];
    if (kind === "surface") return [x, y, +$("point-value").value];
    const chosen = +$("point-class").value;
    const classes = store.config?.dataset.classes || 2;
    return [x, y, e.shiftKey ? (chosen + 1) % classes : chosen];
  }

  canvas.addEventListener("click", (e) => {
    if (!token) return;
    if (!store.adding) {
      const example = exampleAt(e);
      if (example >= 0 && example !== store.state?.example) socket.send({ type: "select", example }, canvas);
      return;
    }
    sendPoints([...basePoints(), newPoint(e)], canvas);
  });
  canvas.addEventListener("contextmenu", (e) => {
    if (!store.adding) return;
    e.preventDefault();
    const points = basePoints();
    const index = nearest(points, ...planeAt(e));
    if (index >= 0 && points.length > 1) { points.splice(index, 1); sendPoints(points, canvas); }
  });
  $("add-points").addEventListener("change", (e) => set(store, "adding", e.target.checked));
  $("show-pieces").addEventListener("change", (e) => set(store, "showPieces", e.target.checked));
  $("point-value").addEventListener("input", (e) => { $("point-value-text").textContent = metric(+e.target.value); });
  $("csv-upload").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    e.target.value = "";
    if (!file) return;
    try {
      const points = parseCsv(await file.text(), store.hello.limits, task(store));
      csvError(null);
      if (sendPoints(points, $("csv-upload"))) csvError(null);
    } catch (error) {
      csvError(`${file.name}: ${error.message}`);
    }
  });
  $("csv-download").addEventListener("click", () => {
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([toCsv(basePoints(), task(store))], { type: "text/csv" }));
    link.download = "backprop-lab-points.csv";
    link.click();
    URL.revokeObjectURL(link.href);
  });

  /** The class picker offers exactly the classes the dataset has. */
  socket.listen((message) => {
    if (message.type !== "config") return;
    const classes = message.config.dataset.classes;
    const select = $("point-class");
    if (select.options.length === classes) return;
    const chosen = Math.min(+select.value || 0, classes - 1);
    select.replaceChildren(...Array.from({ length: classes }, (_, k) => new Option(String(k), String(k), false, k === chosen)));
  });

  if (!token) for (const el of document.querySelectorAll(".custom-data input, .custom-data select")) el.disabled = true;

  /** The panel's words and tools follow the task: its title, the score's name, what a new point
   * needs (a class, a value, or nothing but where it is), the pieces switch for a curve. */
  let shownTask = "";
  function showTask(kind) {
    if (kind === shownTask) return;
    shownTask = kind;
    $("output-title").textContent = panelTitle(store);
    canvas.setAttribute("aria-label", `${panelTitle(store)} with the training and test points; click a training point to follow it`);
    $("accuracy-name").textContent = `train ${scoreName(store)}`;
    $("test-accuracy-name").textContent = `test ${scoreName(store)}`;
    $("point-class-field").hidden = kind !== "classes";
    $("point-value-field").hidden = kind !== "surface";
    $("pieces-field").hidden = kind !== "curve";
    $("csv-upload").setAttribute("aria-label", `Upload CSV of ${COLUMNS[kind].join(",")} rows`);
    followKey = ""; // the followed point is described in the task's words
  }

  /** What the colours and lines of a regression plot mean: the surface's scale, or the curve's
   * line, points and (when shown) each piece's unit. Rebuilt only when what it says changes. */
  let legendKey = "";
  function showLegend(kind) {
    const units = kind === "curve" && store.showPieces ? store.state?.curve?.units || [] : [];
    const key = `${kind}|${units}`;
    if (key === legendKey) return;
    legendKey = key;
    const box = $("fit-legend");
    box.hidden = kind === "classes";
    box.replaceChildren();
    const limit = targetLimit(store);
    if (kind === "surface") {
      box.append(swatchBar(), ` predicted y, −${limit} to +${limit}; each point is coloured by its target y`);
      return;
    }
    if (kind !== "curve") return;
    box.append(item(swatchLine(css(POS), 3), "prediction"), item(swatchDot(false), "training"), item(swatchDot(true), "test"));
    if (!units.length) return;
    box.append(document.createElement("br"), "pieces a·w: ");
    units.forEach((unit, j) => box.append(item(swatchLine(css(pieceColor(j)), 2), unit)));
    box.append(item(swatchLine("#3a4250", 2, true), "bias"));
  }

  let followKey = "";
  let shownEmpty = false;
  return {
    showError: csvError,
    /** The settings' dataset menu: "choose" while custom's choice is open, else the name sent.
     * Choosing another dataset abandons an empty custom set that never got its first point. */
    choosingDataset(name) {
      if (name !== "choose") set(store, "emptyCustom", false);
    },
    paint() {
      drawBoundary(canvas, store);
      const size = document.querySelector('[data-field="dataset.n"]');
      const name = document.querySelector('[data-field="dataset.name"]');
      if (store.emptyCustom) {
        // the settings say what the plot shows: custom, no points yet (the server's config is
        // still the old data until the first point is sent, and a config for another change
        // would otherwise put its dataset back in these fields)
        shownEmpty = true;
        if (size.value !== "0") size.value = 0;
        size.disabled = true;
        if (name.value !== "custom") name.value = "custom";
      } else if (shownEmpty) {
        shownEmpty = false;
        if (store.config) {
          const custom = store.config.dataset.name === "custom";
          size.value = custom ? store.config.dataset.points.length : store.config.dataset.n;
          size.disabled = custom || !token;
          name.value = store.config.dataset.name;
        }
      }
      document.body.classList.toggle("adding", store.adding);
      $("add-points").checked = store.adding;
      const s = store.state, kind = task(store);
      $("loss").textContent = metric(s?.loss); $("test-loss").textContent = metric(s?.test_loss);
      $("accuracy").textContent = scoreText(store, score(store)); $("test-accuracy").textContent = scoreText(store, score(store, s, true));
      showTask(kind);
      showLegend(kind);
      // with no points there is no example to follow: the old dataset's would be a ghost
      const point = s && !store.emptyCustom && store.dataset?.train?.[s.example];
      const key = point ? `${s.example}|${point}` : "";
      if (key === followKey) return;
      followKey = key;
      const follow = $("follow");
      follow.replaceChildren();
      if (!point) return;
      const b = document.createElement("b");
      b.textContent = `example ${s.example}`;
      follow.append("following ", b, ` · ${pointWords(store, point)}` + (token ? " · tap another point to follow it" : ""));
    },
  };
}

/** One entry of the legend: its mark and its words never split across lines. */
function item(mark, words) {
  const entry = document.createElement("span");
  entry.className = "legend-item";
  entry.append(mark, ` ${words}`);
  return entry;
}

// the legend's small marks, drawn with CSS so they scale with the text
function swatchLine(color, width, dashed = false) {
  const mark = document.createElement("span");
  mark.className = "swatch-line";
  mark.style.borderTop = `${width}px ${dashed ? "dashed" : "solid"} ${color}`;
  return mark;
}
function swatchDot(hollow) {
  const mark = document.createElement("span");
  mark.className = `swatch-dot${hollow ? " hollow" : ""}`;
  return mark;
}
function swatchBar() {
  const mark = document.createElement("span");
  mark.className = "swatch-bar";
  return mark;
}
