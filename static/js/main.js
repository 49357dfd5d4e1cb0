// Boots the page: one store, one socket, and one area module per part of the screen, each bound
// with what it needs and returning a `paint()`. One requestAnimationFrame loop paints every area
// when the store is dirty, then acknowledges the frame so the server may send the next.
import { bindBoundary } from "./boundaryview.js";
import { bindClassroom, renderScene } from "./classroom.js";
import { bindControls, disableAll, offerChoices, showConfig, showFieldError } from "./controls.js";
import { bindDrawer } from "./drawer.js";
import { bindGraph } from "./graphview.js";
import { bindGuide } from "./guide.js";
import { bindInspector } from "./inspector.js";
import { readLinkedConfig, writeLinkedConfig } from "./link.js";
import { bindPredict } from "./predict.js";
import { bindQuestions } from "./questions.js";
import { bindRunBar } from "./runbar.js";
import { connect } from "./socket.js";
import { createStore, set, touch } from "./store.js";
import { bindStuckRuns } from "./stuck.js";

const $ = (id) => document.getElementById(id);
const store = createStore();
const { session } = document.body.dataset;
const present = document.body.dataset.present === "1";
const token = presenterToken();
const controls = $("controls");
const linkedConfig = readLinkedConfig();
set(store, "presenting", present);
document.body.classList.toggle("present", present);

/** A projector shows its address bar to the room: the presenter page keeps its token in this
 * tab's sessionStorage and takes it out of the address, so a reload still controls. The server
 * fills in data-token only when the link's token is right; a wrong one leaves the address bar
 * on every page (it would only be copied on), and the page says why it cannot drive. */
function presenterToken() {
  const key = `backprop-lab:token:${session}`;
  const given = document.body.dataset.token;
  const query = new URLSearchParams(location.search);
  const refused = query.has("token") && !given;
  if (present && given) sessionStorage.setItem(key, given);
  if (query.has("token") && (present || refused)) {
    query.delete("token");
    const search = query.toString() ? `?${query}` : "";
    history.replaceState(null, "", `${location.pathname}${search}${location.hash}`);
  }
  if (refused) {
    sayTokenRefused();
    return ""; // not even a token this tab kept: the link in hand says "someone else's session"
  }
  if (!present) return given;
  return given || sessionStorage.getItem(key) || "";
}

function sayTokenRefused() {
  const note = document.createElement("div");
  note.id = "token-refused";
  note.className = "banner";
  note.setAttribute("role", "status");
  note.textContent = "This link's token is not this session's, so this page is view-only: it follows the session "
    + "but cannot change it. (Click to close.)";
  note.addEventListener("click", () => note.remove());
  $("banner").before(note);
}

const socket = connect(store, session, token, { onGone: () => touch(store) });
const showError = (text, element = null) => showFieldError(controls, element, text);

// errors are shown next to whatever caused them; a later success clears them
socket.listen((message, origin) => {
  if (message.type === "error") {
    const element = origin instanceof Element ? origin : null;
    // a refusal of points (a click on the plot, a CSV) is said beside the plot, not in the settings
    if (element?.closest(".output")) boundary.showError(message.message);
    else showError(message.message, element);
  }
  else if (message.type === "state" && message.re !== undefined) showError(null);
  if (message.type === "hello" && message.choices) offerChoices(controls, message, (command, from) => socket.send(command, from));
  if (message.type === "config") {
    showConfig(controls, message.config, store.hello?.choices);
    if (!token) disableAll(controls);
    writeLinkedConfig(message.config);
  }
  if (message.type === "presentation") {
    classroom.onPresentation(message, () => {
      if (linkedConfig) socket.send({ type: "configure", config: linkedConfig });
    });
  }
});

const classroom = bindClassroom({ store, socket, session, token, present });
bindControls(controls, {
  send: (command, origin) => socket.send(command, origin),
  getConfig: () => store.config,
  getLimits: () => store.hello?.limits || {},
  getChoices: () => store.hello?.choices || {},
  readOnly: !token,
  // the boundary owns the custom data: it hears which dataset the learner is choosing
  onDataset: (name) => boundary.choosingDataset(name),
});
const inspector = bindInspector({ store, socket });
const predict = bindPredict({ store, socket, token });
const graph = bindGraph({ store, socket, token, showError });
const boundary = bindBoundary({ store, socket, token });
const areas = [
  bindRunBar({ store, socket, token, classroom, graph, predict }),
  graph,
  inspector,
  boundary,
  bindStuckRuns({ store, socket, token, session, showError }),
  bindDrawer({ store }),
  bindQuestions({ store, socket, token }),
  predict,
  { paint: paintScene },
];
// the guide comes last: it points at what the others have just drawn
areas.push(bindGuide({ store, graph, auto: Boolean(token) && !present }));

if (!token) {
  for (const el of document.querySelectorAll(".run-buttons button, .run-buttons select, .run-buttons input, "
    + "input[name=view], #preset")) el.disabled = true;
  document.body.classList.add("view-only");
}

// --- presets ------------------------------------------------------------------------------------
fetch("/api/presets").then((r) => r.json()).then((presets) => {
  for (const p of presets) $("preset").append(new Option(p.title, p.id));
  $("preset").addEventListener("change", (e) => {
    const chosen = presets.find((p) => p.id === e.target.value);
    $("preset-description").hidden = !chosen;
    $("preset-description").textContent = !chosen ? "" : chosen.description
      + (chosen.iterations ? ` It shows within ${chosen.iterations} iterations: press play.` : "");
    if (chosen && token) socket.send({ type: "configure", config: chosen.config }, e.target);
  });
}).catch(() => {}); // the menu simply stays empty if the list cannot be read

let sceneKey = null;
function paintScene() {
  // this page is one of the connections: "watching" counts the others
  const viewers = Math.max(0, (store.state?.viewers ?? 1) - 1);
  if (sceneKey && sceneKey[0] === store.presentation && sceneKey[1] === viewers) return;
  sceneKey = [store.presentation, viewers];
  renderScene(store.presentation, { present, viewers, control: Boolean(token) });
  touch(store); // a panel shown or hidden resizes the canvases
}

function paint() {
  if (store.dirty) {
    store.dirty = false;
    const start = performance.now();
    for (const area of areas) area.paint(start);
    window.__paintMs = performance.now() - start;
    if (store.state && store.grid && store.grid.seq === store.state.seq && store.drawnSeq !== store.state.seq) {
      store.drawnSeq = store.state.seq;
      socket.ack(store.state.seq);
    }
  }
  if (performance.now() < store.animateUntil) store.dirty = true; // the dashes along the flowing edges march
  requestAnimationFrame(paint);
}
window.addEventListener("resize", () => touch(store));
window.__backprop = store; // for the browser tests and the paint benchmark
// what the graph drew, as plain data, for the tests: label boxes, node boxes, a node's value text
window.__backpropView = { labels: () => graph.drawnLabels(), nodeBoxes: () => graph.nodeBoxes(), locate: (id) => graph.locate(id), outline: (id) => graph.outline(id),
  valueText: (id) => graph.valueText(id) };
requestAnimationFrame(paint);
