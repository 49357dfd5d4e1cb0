// Config controls: each input names its config field with data-field="dataset.noise". The
// controls show the server's config; a change sends only that field, as a partial config.
// What may be chosen comes from the server's hello: each select's options (data-choices names
// the list) and each number's bounds (data-limit names the limit), so the page never restates them.
const NUMBER_FIELDS = new Set(["dataset.classes", "dataset.n", "dataset.seed", "batch_size", "weight_seed"]);

function getPath(config, path) {
  return path.split(".").reduce((o, k) => (o ? o[k] : undefined), config);
}

function patchFor(path, value) {
  const [head, tail] = path.split(".");
  return tail ? { [head]: { [tail]: value } } : { [head]: value };
}

/** Fill the selects, the feature boxes and the number bounds from `hello`. */
export function offerChoices(root, { choices, limits }, send) {
  for (const select of root.querySelectorAll("select[data-choices]")) {
    const value = select.value;
    select.replaceChildren(...choices[select.dataset.choices].map((c) => new Option(c, c, false, c === value)));
  }
  for (const input of root.querySelectorAll("input[data-limit]")) {
    const name = input.dataset.limit;
    if (limits[name] !== undefined) input.max = limits[name];
    if (limits[`${name}_min`] !== undefined) input.min = limits[`${name}_min`];
  }
  const featureBox = root.querySelector('[data-field="features"]');
  if (featureBox.childElementCount === choices.features.length) return;
  featureBox.replaceChildren();
  for (const name of choices.features) {
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox"; box.value = name; box.setAttribute("aria-label", `Feature ${name}`);
    label.append(box, ` ${name}`);
    featureBox.append(label);
    box.addEventListener("change", () => {
      const chosen = [...featureBox.querySelectorAll("input:checked")].map((b) => b.value);
      send({ type: "configure", config: { features: chosen } }, box);
    });
  }
}

export function bindControls(root, { send, getConfig, getLimits, getChoices, readOnly, onDataset }) {
  const featureBox = root.querySelector('[data-field="features"]');
  for (const el of root.querySelectorAll("[data-field]")) {
    if (el === featureBox) continue;
    // typing marks a field as the learner's; sending it (change) gives it back to the server's config
    el.addEventListener("input", () => { el.dataset.typing = "1"; });
    el.addEventListener("change", () => { delete el.dataset.typing; });
    el.addEventListener("blur", () => { delete el.dataset.typing; });
    el.addEventListener("change", () => {
      const path = el.dataset.field;
      let value = el.value;
      if (el.type === "number") value = NUMBER_FIELDS.has(path) ? parseInt(value, 10) : parseFloat(value);
      if (el.type === "number" && !Number.isFinite(value)) {
        showFieldError(root, el, `${path} needs a number`);
        return;
      }
      const config = getConfig();
      // custom data needs points, which the server cannot invent: the page asks where they come
      // from (these points, or none) before it sends anything, and leaves the run as it is till then
      const choice = root.querySelector("#custom-choice");
      if (path === "dataset.name" && value === "custom" && config?.dataset?.name !== "custom") {
        root.querySelector("#custom-count").textContent = String(config?.dataset?.n ?? 0);
        choice.hidden = false;
        onDataset?.("choose");
        return;
      }
      if (path === "dataset.name") { choice.hidden = true; onDataset?.(value); }
      const classes = path === "dataset.classes" ? value : config?.dataset?.classes;
      const patch = patchFor(path, value);
      note(root, null);
      // bce has one sigmoid output, which cannot tell 3 classes apart: more classes take the loss
      // to cross_entropy in the same change, and the page says so rather than switching silently
      if (path === "dataset.classes" && value > 2 && config?.loss === "bce") {
        patch.loss = "cross_entropy";
        note(root, "bce has one output, so the loss moved to cross_entropy");
      }
      // the other way round: a generated dataset can be made again with 2 classes, and is, saying
      // so; custom points carry their own labels, so there the page says why bce cannot be had
      const generated = config?.dataset?.name !== "custom";
      if (path === "loss" && value === "bce" && classes > 2) {
        if (!generated) {
          el.value = config.loss;
          showFieldError(root, el, `bce needs 2 classes (one output: the chance of class 1), and these points have `
            + `${classes}; keep cross_entropy or mse`);
          return;
        }
        patch.dataset = { classes: 2 };
        note(root, "bce has one output, so the data moved to 2 classes");
      }
      // a dataset that has only 2 classes is chosen with 2 classes, rather than refused
      const multiclass = getChoices().multiclass_datasets || [];
      if (path === "dataset.name" && classes > 2 && !multiclass.includes(value)) {
        patch.dataset.classes = 2;
        note(root, `${value} has 2 classes, so classes moved to 2`);
      }
      if (path === "dataset.name") Object.assign(patch, regressionPatch(value, config, getChoices(), (words) => note(root, words)));
      send({ type: "configure", config: patch }, el);
    });
  }
  const widths = root.querySelector("#layer-widths");
  const hidden = () => [...(getConfig()?.hidden || [])];
  root.querySelector("#layer-add").addEventListener("click", (e) => {
    const h = hidden(); if (h.length < getLimits().hidden_layers) send({ type: "configure", config: { hidden: [...h, h.at(-1) || 4] } }, e.currentTarget);
  });
  root.querySelector("#layer-remove").addEventListener("click", (e) => {
    const h = hidden(); if (h.length) send({ type: "configure", config: { hidden: h.slice(0, -1) } }, e.currentTarget);
  });
  widths.addEventListener("click", (e) => {
    const button = e.target.closest("button[data-layer]");
    if (!button) return;
    const h = hidden(), l = +button.dataset.layer;
    const { width, width_min: least = 1 } = getLimits();
    h[l] = Math.max(least, Math.min(width, h[l] + +button.dataset.delta));
    send({ type: "configure", config: { hidden: h } }, button);
  });
  if (readOnly) disableAll(root);
}

/** A regression dataset takes mse, and one of one input only the features of x1: choosing it
 * brings them along in the same change, and the page says so rather than switching silently. */
function regressionPatch(name, config, choices, say) {
  if (!(choices.regression_datasets || []).includes(name) || !config) return {};
  const patch = {}, changed = [];
  if (config.loss !== "mse") { patch.loss = "mse"; changed.push("the loss moved to mse"); }
  if ((choices.one_input_datasets || []).includes(name)) {
    const kept = config.features.filter((f) => choices.one_input_features.includes(f));
    if (kept.length !== config.features.length) {
      patch.features = kept.length ? kept : ["x1"];
      changed.push(`the features are ${patch.features.join(", ")} (${name} has one input, x1)`);
    }
  }
  if (changed.length) say(`${name} fits a real-valued target: ${changed.join("; ")}`);
  return patch;
}

/** The short note beside the classes field: what the page changed along with the user's choice. */
function note(root, text) {
  const box = root.querySelector("#classes-note");
  box.hidden = !text;
  box.textContent = text || "";
}

/** A viewer watches: every control that would change the run is switched off (features arrive later). */
export function disableAll(root) {
  for (const el of root.querySelectorAll("input, select, button:not(#settings-close)")) el.disabled = true;
}

/** Show the server's config in the controls (never while the user is typing in one). `choices`
 * (hello's) say which choices the dataset rules out: a regression takes mse only, a curve only
 * the features of x1, and neither has classes. */
export function showConfig(root, config, choices = {}) {
  for (const el of root.querySelectorAll("[data-field]")) {
    if (el.dataset.field === "features") {
      for (const box of el.querySelectorAll("input")) box.checked = config.features.includes(box.value);
      continue;
    }
    if (el.dataset.typing === "1") continue; // the learner's half-typed value is theirs until sent
    const value = getPath(config, el.dataset.field);
    if (value !== undefined) el.value = value;
  }
  // a custom dataset's size is its list of points: the field shows how many and is not for typing
  const size = root.querySelector('[data-field="dataset.n"]');
  const custom = config.dataset.name === "custom";
  if (custom) size.value = config.dataset.points.length;
  size.disabled = custom;
  size.title = custom ? "the number of custom points: add, remove or clear them on the plot" : "";
  if (custom) root.querySelector("#custom-choice").hidden = true;
  const regression = (choices.regression_datasets || []).includes(config.dataset.name);
  const oneInput = (choices.one_input_datasets || []).includes(config.dataset.name);
  for (const option of root.querySelectorAll('[data-field="loss"] option')) option.disabled = regression && option.value !== "mse";
  for (const box of root.querySelectorAll('[data-field="features"] input')) {
    box.closest("label").classList.toggle("ruled-out", oneInput && !choices.one_input_features.includes(box.value));
    box.disabled = oneInput && !choices.one_input_features.includes(box.value);
  }
  root.querySelector('[data-field="dataset.classes"]').disabled = regression;
  root.querySelector("#layer-count").textContent = config.hidden.length;
  const widths = root.querySelector("#layer-widths");
  widths.innerHTML = "";
  config.hidden.forEach((w, l) => {
    const row = document.createElement("div");
    row.className = "row";
    row.innerHTML = `<span>layer ${l + 1}</span><button data-layer="${l}" data-delta="-1" aria-label="Fewer neurons in layer ${l + 1}">−</button><b>${w}</b><button data-layer="${l}" data-delta="1" aria-label="More neurons in layer ${l + 1}">+</button>`;
    widths.append(row);
  });
}

/** Show a refusal next to the settings field that caused it (or at the panel's foot). The box only
 * ever moves within the settings panel: an error caused elsewhere (a CSV upload, the graph) is
 * shown there too, and the box stays findable for the next one. */
export function showFieldError(root, element, message) {
  const box = document.getElementById("control-error");
  for (const el of document.querySelectorAll(".field-error")) el.classList.remove("field-error");
  if (!message) { box.hidden = true; return; }
  box.textContent = message;
  box.hidden = false;
  if (element && root.contains(element)) {
    element.classList.add("field-error");
    (element.closest("label") || element).after(box);
  } else if (box.parentElement !== root) {
    root.append(box);
  }
}
