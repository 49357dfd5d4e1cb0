// The output panel: the decision boundary with its points, the example the network follows,
// the numbers, and the custom-data tools. A click or tap on a training point follows that
// example (`select`); adding and removing points is a mode of its own, switched on explicitly.
import { metric, percent, short } from "./format.js";
import { currentPoints, customConfig, nearest, parseCsv, toCsv } from "./points.js";
import { drawBoundary, planeMapping, pointRadius } from "./render.js";
import { set } from "./store.js";

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
    const command = { type: "configure", config: customConfig(points, store.config), id: 0 };
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

  canvas.addEventListener("click", (e) => {
    if (!token) return;
    if (!store.adding) {
      const example = exampleAt(e);
      if (example >= 0 && example !== store.state?.example) socket.send({ type: "select", example }, canvas);
      return;
    }
    const chosen = +$("point-class").value;
    const classes = store.config?.dataset.classes || 2;
    const label = e.shiftKey ? (chosen + 1) % classes : chosen; // "the other class": the next one round
    sendPoints([...basePoints(), [...planeAt(e), label]], canvas);
  });
  canvas.addEventListener("contextmenu", (e) => {
    if (!store.adding) return;
    e.preventDefault();
    const points = basePoints();
    const index = nearest(points, ...planeAt(e));
    if (index >= 0 && points.length > 1) { points.splice(index, 1); sendPoints(points, canvas); }
  });
  $("add-points").addEventListener("change", (e) => set(store, "adding", e.target.checked));
  $("csv-upload").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    e.target.value = "";
    if (!file) return;
    try {
      const points = parseCsv(await file.text(), store.hello.limits);
      csvError(null);
      if (sendPoints(points, $("csv-upload"))) csvError(null);
    } catch (error) {
      csvError(`${file.name}: ${error.message}`);
    }
  });
  $("csv-download").addEventListener("click", () => {
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([toCsv(basePoints())], { type: "text/csv" }));
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
      const s = store.state;
      $("loss").textContent = metric(s?.loss); $("test-loss").textContent = metric(s?.test_loss);
      $("accuracy").textContent = percent(s?.accuracy); $("test-accuracy").textContent = percent(s?.test_accuracy);
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
      follow.append("following ", b, ` · class ${point[2]} at (${short(point[0])}, ${short(point[1])})`
        + (token ? " · tap another point to follow it" : ""));
    },
  };
}
