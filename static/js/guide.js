// A first-visit tour: five short steps that point at the real things on screen (an input, a
// hidden unit, the loss, the Step button, the inspector) and say in plain words what x, z, a,
// L, dL/dz and dL/dw are and what the colours mean. Skippable, remembered, and reopened with "?".

const $ = (id) => document.getElementById(id);
const KEY = "backprop-lab:guide";

const STEPS = [
  { node: "in0", title: "The inputs: x",
    text: "Each square on the left is one input of the example the network is following: x1 and x2 are its "
      + "coordinates on the plane. The picture inside a square is that input over the whole plane." },
  { node: "h1_0", title: "A unit: z, then a",
    text: "A hidden unit adds up its inputs times their weights, plus a bias: z = w·x + b. Then it bends the result: "
      + "a = f(z). Edges are the weights w: blue is positive, orange negative, thicker is larger. The number by a unit "
      + "is its value for this example, sign included." },
  { node: "loss", title: "The loss: L",
    text: "The last node compares the network's answer with the example's true class. L is large when the network is "
      + "wrong and near 0 when it is right. Learning means making L smaller." },
  { element: "step", title: "Step: forward, then backward",
    text: "Press Step (or →) to compute one op. Forward fills in z and a, unit by unit, up to L. Backward sends the "
      + "gradient back: dL/dz says how much L changes when z grows a little, and dL/dw = a · dL/dz tells each weight "
      + "which way to move. While it flows back, the colours show gradients. ← undoes a step." },
  { element: "inspector", title: "The working, with real numbers",
    text: "Every step is written out here: the chain rule at that node, with the numbers it used. Tap any node to pin "
      + "its working. Tap a point on the boundary to follow another example." },
];

export function bindGuide({ store, graph, auto }) {
  let index = -1;
  const seen = () => { try { return localStorage.getItem(KEY) === "done"; } catch { return true; } };
  const remember = () => { try { localStorage.setItem(KEY, "done"); } catch { /* private mode: ask again next time */ } };

  function target(step) {
    if (step.node) {
      const o = graph.outline(step.node);  // the node with its name and value: the ring covers neither
      if (o) return { left: o.left - 6, top: o.top - 6, width: o.right - o.left + 12, height: o.bottom - o.top + 12 };
    }
    const element = $(step.element || "graph");
    if (!element || element.closest("[hidden]")) return null;
    const r = element.getBoundingClientRect();
    return { left: r.left - 6, top: r.top - 6, width: r.width + 12, height: r.height + 12 };
  }

  function place() {
    const step = STEPS[index];
    const box = target(step);
    const ring = $("guide-ring"), card = $("guide-card");
    ring.hidden = !box;
    if (box) Object.assign(ring.style, { left: `${box.left}px`, top: `${box.top}px`, width: `${box.width}px`, height: `${box.height}px` });
    // the card goes below the target if it fits, else above, else to its side; always on screen.
    // Pointing at a node it sits under the graph, so the network it talks about stays in view.
    const w = card.offsetWidth, h = card.offsetHeight, vw = window.innerWidth, vh = window.innerHeight;
    let left = 12, top = vh - h - 12;
    const graph = $("graph").getBoundingClientRect();
    if (box && step.node && graph.bottom + 8 + h < vh) {
      left = Math.min(Math.max(12, box.left), vw - w - 12);
      top = graph.bottom + 8;
    } else if (box) {
      left = Math.min(Math.max(12, box.left), vw - w - 12);
      if (box.top + box.height + 12 + h < vh) top = box.top + box.height + 12;
      else if (box.top - 12 - h > 0) top = box.top - 12 - h;
      else { top = Math.min(Math.max(12, box.top), vh - h - 12); left = box.left + box.width + 12 + w < vw ? box.left + box.width + 12 : Math.max(12, box.left - w - 12); }
    }
    Object.assign(card.style, { left: `${left}px`, top: `${Math.max(12, top)}px` });
  }

  function show(k) {
    index = k;
    const step = STEPS[k];
    $("guide").hidden = false;
    $("guide-count").textContent = `${k + 1} of ${STEPS.length}`;
    $("guide-title").textContent = step.title;
    $("guide-text").textContent = step.text;
    $("guide-back").disabled = k === 0;
    $("guide-next").textContent = k === STEPS.length - 1 ? "Start" : "Next ›";
    const element = step.element ? $(step.element) : $("graph");
    element?.scrollIntoView?.({ block: "nearest" });
    requestAnimationFrame(place);
    $("guide-next").focus({ preventScroll: true });
  }
  function close() {
    index = -1;
    $("guide").hidden = true;
    remember();
  }

  $("guide-next").addEventListener("click", () => (index >= STEPS.length - 1 ? close() : show(index + 1)));
  $("guide-back").addEventListener("click", () => index > 0 && show(index - 1));
  $("guide-skip").addEventListener("click", close);
  $("guide-open").addEventListener("click", () => show(0));
  $("guide").addEventListener("keydown", (e) => { if (e.key === "Escape") close(); });
  window.addEventListener("resize", () => { if (index >= 0) requestAnimationFrame(place); });
  window.addEventListener("scroll", () => { if (index >= 0) place(); }, { passive: true });

  let started = !auto || seen();
  return {
    open: () => show(0),
    paint() {
      // the first visit starts the tour once the graph is on screen, so it can point at real nodes
      if (!started && store.graph && store.state && graph.locate("in0")) { started = true; show(0); }
      else if (index >= 0) place();
    },
  };
}
