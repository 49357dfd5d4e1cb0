// Predict, then reveal. A controller asks about the next op (q: its number, s: its sign; the Ask
// menu also asks which unit of a layer is dead and the shape of a batch matrix); every page gets
// the question. A viewer's page (a phone first) gives the question the screen: the prompt, a
// keypad or buttons, then whether it was right and the working. A controller's page shows how
// many answered and the room's answers as bars in large type; Enter reveals, Esc closes.
// Answers are anonymous: the page sends only the value.
import { renderRow } from "./inspector.js";
import { el } from "./dom.js";
import { precise, short } from "./format.js";
import { set, touch } from "./store.js";

const $ = (id) => document.getElementById(id);
// four columns, so the keypad leaves a phone's top half to the network, where the node is ringed
const KEYPAD = ["7", "8", "9", "⌫", "4", "5", "6", "−", "1", "2", "3", ".", "0"];
const SIGN_WORDS = { "+": "positive (+)", "-": "negative (−)", "0": "zero (0)" };

/** A typed number as the page writes it ("−0.43", "1e-3") → a JS number, or null. */
export function readNumber(text) {
  const clean = String(text).trim().replace(/−/g, "-").replace(/,/g, ".");
  if (!/^-?(\d+\.?\d*|\.\d+)(e-?\d+)?$/i.test(clean)) return null;
  const value = Number(clean);
  return Number.isFinite(value) ? value : null;
}

export function bindQuestions({ store, socket, token }) {
  const box = $("question");
  let typed = "";
  let shapeRows = "", shapeCols = "", shapeField = "rows";

  function ask(kind, target) {
    if (!token) return;
    socket.send(target ? { type: "ask", kind, target } : { type: "ask", kind }, $("ask-menu"));
    $("ask-menu").open = false;
  }
  function answer(value) {
    const q = store.question;
    if (!q?.open) return;
    set(store, "myAnswer", value);
    socket.send({ type: "answer", question: q.id, value }, box);
  }
  const reveal = () => store.question?.open && socket.send({ type: "reveal", question: store.question.id }, box);
  const close = () => {
    if (store.question?.open) socket.send({ type: "close_question", question: store.question.id }, box);
    else { set(store, "question", null); set(store, "reveal", null); }
  };

  // the Ask menu: one click for each kind of question
  $("ask-next").addEventListener("click", () => ask("number"));
  $("ask-sign").addEventListener("click", () => ask("sign"));
  $("ask-dead").addEventListener("click", () => ask("choice", { layer: deadLayer() }));
  // the next op's unit, asked about in other ways: its z, its dL/da (a fork's sum), a weight into it
  const nextUnit = () => store.graph?.nodes.find((n) => n.id === store.state?.next?.node);
  $("ask-z").addEventListener("click", () => ask("number", { node: nextUnit().id, quantity: "z" }));
  $("ask-grad-a").addEventListener("click", () => ask("number", { node: nextUnit().id, quantity: "grad_a" }));
  $("ask-grad-w").addEventListener("click", () => {
    const unit = nextUnit();
    ask("number", { param: `W${unit.layer}`, i: 0, j: unit.index, quantity: "grad" });
  });
  $("ask-shape").addEventListener("click", () => ask("shape", { matrix: $("ask-matrix").value }));
  $("question-reveal").addEventListener("click", reveal);
  $("question-close").addEventListener("click", close);
  $("question-dismiss").addEventListener("click", () => { set(store, "question", null); set(store, "reveal", null); });

  /** The hidden layer a "which is dead" question is about: the cursor's, else the first. */
  function deadLayer() {
    const m = /^h(\d+)_/.exec(store.state?.cursor || "");
    return m ? Number(m[1]) : 1;
  }

  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.target.closest?.("input, textarea, select, dialog")) return;
    const q = store.question;
    if (token && (e.key === "q" || e.key === "s") && !q?.open) { e.preventDefault(); ask(e.key === "q" ? "number" : "sign"); }
    else if (token && e.key === "Enter" && q?.open && !e.target.closest?.("button")) { e.preventDefault(); reveal(); }
    else if (e.key === "Escape" && q) { e.preventDefault(); close(); }
    else if (q?.open && !token && q.kind === "number") keypadKey(e);
  });

  // a phone's own keyboard has no minus sign in its decimal pad: the page brings a keypad
  function keypadKey(e) {
    const key = e.key === "-" ? "−" : e.key;
    if (KEYPAD.includes(key)) press(key);
    else if (e.key === "Backspace") press("⌫");
    else if (e.key === "Enter") press("send");
    else return;
    e.preventDefault();
  }
  function press(key) {
    if (key === "⌫") typed = typed.slice(0, -1);
    else if (key === "−") typed = typed.startsWith("−") ? typed.slice(1) : `−${typed}`;
    else if (key === "send") { const v = readNumber(typed); if (v !== null) answer(v); return; }
    else if (typed.length < 16) typed += key;
    touch(store);
  }

  // a lesson step's questions are asked by the teacher's page when the run's next op in the
  // step's first iteration is the one a question waits for; each once per visit to the step
  const askedInLesson = new Set();
  function askLessonQuestion(state) {
    const where = store.presentation?.lesson;
    if (!token || !where || state.iteration !== 0 || !state.next || store.question?.open) return;
    const step = store.lessons.find((l) => l.id === where.id)?.steps[where.step];
    (step?.questions || []).forEach((q, k) => {
      const id = `${where.id}:${where.step}:${k}`;
      const due = q.before.phase === state.next.phase && (!q.before.node || q.before.node === state.next.node);
      if (!due || askedInLesson.has(id) || store.question?.open) return;
      askedInLesson.add(id);
      socket.send({ type: "ask", kind: q.kind, target: q.target, prompt: q.prompt }, $("ask-menu"));
    });
  }

  // the room's answers come back as counts; the page sends the value only
  let revealedAt = null; // where the cursor was when the truth came: once the run moves on, the card goes
  socket.listen((message) => {
    if (message.type === "reveal") revealedAt = store.state?.cursor ?? null;
    if (message.type === "state" && store.question && !store.question.open && store.reveal
        && message.cursor !== revealedAt) { set(store, "question", null); set(store, "reveal", null); }
    if (message.type === "state" && message.re !== undefined) askLessonQuestion(message);
    if (message.type === "presentation") askedInLesson.clear(); // a step loaded again asks again
    if (message.type === "question" && message.open) { typed = ""; shapeRows = shapeCols = ""; shapeField = "rows"; }
    if (message.type === "config") offerMatrices(message.config.hidden.length + 1);
  });
  /** The batch view's matrices a shape question can ask about, layer by layer: the gradients,
   * where `.sum(0)` and `dZ @ Wᵀ` trip learners up. */
  function offerMatrices(depth) {
    const names = [];
    for (let l = 1; l <= depth; l++) names.push(`dW${l}`, `db${l}`, `dZ${l}`, `dX${l}`);
    const select = $("ask-matrix");
    const chosen = names.includes(select.value) ? select.value : "dW1";
    select.replaceChildren(...names.map((n) => new Option(n, n, n === chosen, n === chosen)));
  }

  /** Which of the Ask menu's questions fit the next op (neuron view: a unit's z, dL/da, dL/dw). */
  function offerAsks() {
    const unit = store.state?.view === "neuron" ? store.graph?.nodes.find((n) => n.id === store.state?.next?.node) : null;
    const isUnit = unit?.kind === "neuron" || unit?.kind === "output";
    $("ask-z").disabled = !isUnit;
    $("ask-grad-a").disabled = !isUnit || unit.kind !== "neuron";
    $("ask-grad-w").disabled = !isUnit;
  }

  let key = null;
  let askKey = null;
  function paint() {
    const nextKey = `${store.state?.view}|${store.state?.next?.node}|${store.graph?.nodes.length}`;
    if (nextKey !== askKey) { askKey = nextKey; offerAsks(); } // once per op, not once per frame
    const q = store.question;
    document.body.classList.toggle("asking", Boolean(q));
    const now = JSON.stringify([q, store.tally, store.reveal, store.myAnswer, typed, shapeRows, shapeCols, shapeField,
      store.state?.viewers]);
    if (now === key) return;
    key = now;
    box.hidden = !q;
    if (!q) return;
    box.classList.toggle("control", Boolean(token));
    $("question-prompt").textContent = q.prompt;
    const what = { number: "a number", sign: "a sign", choice: "a choice", shape: "a shape" }[q.kind];
    $("question-kind").textContent = !q.open ? (store.reveal ? "revealed" : "closed")
      : token && (store.state?.viewers ?? 1) > 1 ? `the room predicts ${what}` : `predict ${what}`;
    $("question-reveal").hidden = !token || !q.open;
    $("question-close").hidden = !token || !q.open;
    $("question-dismiss").hidden = q.open;
    paintHint(q);
    paintAnswerPad(q);
    paintTally(q);
    paintResult(q);
  }

  // the pad is built once per question and then only updated: a tap must never land on a
  // button that a repaint has just replaced
  let padFor = null;
  function paintAnswerPad(q) {
    const pad = $("question-answer");
    // a controller asks; the room answers (a learner alone answers on the same page)
    const answers = !token || store.predicting || (store.state?.viewers ?? 1) <= 1;
    pad.hidden = !q.open || !answers;
    const want = pad.hidden ? null : `${q.id}|${q.kind}`;
    if (want !== padFor) {
      padFor = want;
      pad.replaceChildren();
      if (want) pad.append(...buildPad(q), el("p", "sent"));
    }
    if (!want) return;
    const typedBox = pad.querySelector(".typed");
    if (typedBox) typedBox.textContent = typed || " ";
    const send = pad.querySelector(".send");
    if (send) send.disabled = q.kind === "number" ? readNumber(typed) === null : !shapeRows || shapeDims().some((d) => d < 1);
    for (const b of pad.querySelectorAll(".choice")) {
      b.classList.toggle("chosen", store.myAnswer === b.dataset.value);
      b.setAttribute("aria-pressed", String(store.myAnswer === b.dataset.value));
    }
    for (const b of pad.querySelectorAll(".shape-field")) {
      const value = b.dataset.field === "rows" ? shapeRows : shapeCols;
      b.textContent = value || b.dataset.field;
      b.classList.toggle("active", shapeField === b.dataset.field);
    }
    pad.querySelector(".sent").textContent = store.myAnswer === null ? ""
      : `Sent: ${answerText(q, store.myAnswer)}. You can change it until the reveal.`;
  }

  function button(className, text, onClick, label) {
    const b = el("button", className, text);
    b.type = "button";
    if (label) b.setAttribute("aria-label", label);
    b.addEventListener("click", onClick);
    return b;
  }

  function buildPad(q) {
    if (q.kind === "number") {
      const shown = el("output", "typed", " ");
      shown.setAttribute("aria-label", "Your number");
      const keys = el("div", "keypad");
      for (const k of KEYPAD) keys.append(button("key", k, () => press(k), k === "⌫" ? "Delete" : k === "−" ? "Minus" : k));
      keys.append(button("key send", "Send", () => press("send"), "Send"));
      return [shown, keys];
    }
    if (q.kind === "shape") return [shapePad()];
    const row = el("div", "choices");
    for (const c of q.choices) {
      const b = button("choice", q.kind === "sign" ? SIGN_WORDS[c] : labelOf(c), () => answer(c));
      b.dataset.value = c;
      row.append(b);
    }
    return [row];
  }

  function shapeDims() {
    return [shapeRows, shapeCols].filter(Boolean).map(Number);
  }

  function shapePad() {
    const wrap = el("div", "shape-pad");
    const field = (name) => {
      const b = button("shape-field", name, () => { shapeField = name; touch(store); }, `Shape: ${name}`);
      b.dataset.field = name;
      return b;
    };
    wrap.append(field("rows"), el("span", "times", "×"), field("cols"));
    const keys = el("div", "keypad");
    for (const k of ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "⌫"]) {
      keys.append(button("key", k, () => {
        const cur = shapeField === "rows" ? shapeRows : shapeCols;
        const next = k === "⌫" ? cur.slice(0, -1) : (cur + k).slice(0, 5);
        if (shapeField === "rows") shapeRows = next; else shapeCols = next;
        touch(store);
      }, k === "⌫" ? "Delete" : k));
    }
    keys.append(button("key send", "Send", () => answer(shapeDims()), "Send"));
    wrap.append(keys, el("p", "hint", "A vector (one number per unit) has one dimension: leave cols empty."));
    return wrap;
  }

  /** A learner practising alone gets the working with the question, faded: one factor (□) or all
   * the numbers left out, and no result. */
  function paintHint(q) {
    const hint = $("question-hint");
    hint.hidden = !q.hint || !q.open;
    hint.replaceChildren(...(hint.hidden ? [] : q.hint.rows.map(renderRow)));
  }

  function paintTally(q) {
    const panel = $("question-tally");
    panel.replaceChildren();
    const data = store.reveal || store.tally;
    panel.hidden = !token || !data;
    if (panel.hidden) return;
    const connected = Math.max(0, (store.tally?.connected ?? store.state?.viewers ?? 1) - 1);
    const answered = store.reveal ? store.reveal.answers : store.tally.answers;
    panel.append(el("p", "answered", `${answered} of ${Math.max(connected, answered)} answered`));
    panel.append(bars(q, data.counts, store.reveal?.truth));
  }

  function paintResult(q) {
    const result = $("question-result");
    result.replaceChildren();
    const r = store.reveal;
    result.hidden = !r;
    if (!r) return;
    const truth = el("p", "truth");
    truth.append(el("span", "", "The answer: "), el("b", "", answerText(q, r.truth)));
    result.append(truth);
    if (!token || store.predicting || (store.state?.viewers ?? 1) <= 1) {
      const verdict = r.yours === null || r.yours === undefined ? "You did not answer."
        : r.right ? `✓ Right: you said ${answerText(q, r.yours)}.` : `✗ Not quite: you said ${answerText(q, r.yours)}.`;
      result.append(el("p", `verdict ${r.right ? "good" : "bad"}`, verdict));
    }
    const working = el("div", "explain working");
    for (const row of r.working?.rows || []) working.append(renderRow(row));
    result.append(working);
  }

  function labelOf(id) {
    if (id === "none") return "none of them";
    return store.graph?.nodes.find((n) => n.id === id)?.label || id;
  }
  function answerText(q, value) {
    if (value === null || value === undefined) return "—";
    if (q.kind === "number") return precise(value);
    if (q.kind === "sign") return SIGN_WORDS[value] || value;
    if (q.kind === "shape") return Array.isArray(value) ? value.join(" × ") : String(value);
    return Array.isArray(value) ? value.map(labelOf).join(" or ") : labelOf(value);
  }

  /** The room's answers as bars, largest first for choices; a number's bins in order, the
   * true value marked once revealed. */
  function bars(q, counts, truth) {
    const chart = el("div", "bars");
    chart.setAttribute("role", "img");
    let entries;
    if (q.kind === "number") {
      entries = (counts.counts || []).map((c, k) => [`${short(counts.edges[k])} … ${short(counts.edges[k + 1])}`, c,
        truth !== undefined && truth !== null && truth >= counts.edges[k] && truth < counts.edges[k + 1]]);
    } else if (q.kind === "shape") {
      const right = Array.isArray(truth) ? truth.join("×") : null;
      entries = Object.entries(counts).map(([k, c]) => [k.replace("×", " × "), c, k === right]);
    } else {
      const right = Array.isArray(truth) ? truth : [truth];
      entries = Object.entries(counts).map(([k, c]) => [q.kind === "sign" ? k.replace("-", "−") : labelOf(k), c, right.includes(k)]);
    }
    const most = Math.max(1, ...entries.map((e) => e[1]));
    chart.setAttribute("aria-label", entries.map(([name, c]) => `${name}: ${c}`).join(", "));
    for (const [name, count, isTruth] of entries) {
      const row = el("div", `bar-row${isTruth ? " truth" : ""}`);
      const bar = el("span", "bar");
      bar.style.width = `${(count / most) * 100}%`;
      const track = el("span", "bar-track");
      track.append(bar);
      row.append(el("span", "bar-name", name), track, el("b", "bar-count", String(count)));
      chart.append(row);
    }
    if (q.kind === "number" && truth !== undefined && truth !== null && entries.length && !entries.some((e) => e[2])) {
      chart.append(el("p", "hint", `The true value ${precise(truth)} lies outside every answer's bin.`));
    }
    return chart;
  }

  return { paint };
}
