// Config controls: each input names its config field with data-field="dataset.noise". The
// controls show the server's config; a change sends only that field, as a partial config.
const FEATURES = ["x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"];
const NUMBER_FIELDS = new Set(["dataset.classes", "dataset.n", "dataset.seed", "batch_size", "weight_seed"]);

function getPath(config, path) {
  return path.split(".").reduce((o, k) => (o ? o[k] : undefined), config);
}

function patchFor(path, value) {
  const [head, tail] = path.split(".");
  return tail ? { [head]: { [tail]: value } } : { [head]: value };
}

export function bindControls(root, { send, getConfig, readOnly }) {
  const featureBox = root.querySelector('[data-field="features"]');
  featureBox.innerHTML = "";
  for (const name of FEATURES) {
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
  for (const el of root.querySelectorAll("[data-field]")) {
    if (el === featureBox) continue;
    el.addEventListener("change", () => {
      const path = el.dataset.field;
      let value = el.value;
      if (el.type === "number") value = NUMBER_FIELDS.has(path) ? parseInt(value, 10) : parseFloat(value);
      if (el.type === "number" && !Number.isFinite(value)) {
        showFieldError(root, el, `${path} needs a number`);
        return;
      }
      send({ type: "configure", config: patchFor(path, value) }, el);
    });
  }
  const widths = root.querySelector("#layer-widths");
  const hidden = () => [...(getConfig()?.hidden || [])];
  root.querySelector("#layer-add").addEventListener("click", (e) => {
    const h = hidden(); if (h.length < 6) send({ type: "configure", config: { hidden: [...h, h.at(-1) || 4] } }, e.currentTarget);
  });
  root.querySelector("#layer-remove").addEventListener("click", (e) => {
    const h = hidden(); if (h.length) send({ type: "configure", config: { hidden: h.slice(0, -1) } }, e.currentTarget);
  });
  widths.addEventListener("click", (e) => {
    const button = e.target.closest("button[data-layer]");
    if (!button) return;
    const h = hidden(), l = +button.dataset.layer;
    h[l] = Math.max(1, Math.min(16, h[l] + +button.dataset.delta));
    send({ type: "configure", config: { hidden: h } }, button);
  });
  if (readOnly) for (const el of root.querySelectorAll("input, select, button")) el.disabled = true;
}

/** Show the server's config in the controls (never while the user is typing in one). */
export function showConfig(root, config) {
  for (const el of root.querySelectorAll("[data-field]")) {
    if (el.dataset.field === "features") {
      for (const box of el.querySelectorAll("input")) box.checked = config.features.includes(box.value);
      continue;
    }
    if (document.activeElement === el) continue;
    const value = getPath(config, el.dataset.field);
    if (value !== undefined) el.value = value;
  }
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

export function showFieldError(root, element, message) {
  const box = root.querySelector("#control-error");
  for (const el of root.querySelectorAll(".field-error")) el.classList.remove("field-error");
  if (!message) { box.hidden = true; return; }
  box.textContent = message;
  box.hidden = false;
  if (element) {
    element.classList.add("field-error");
    element.after?.(box);
  }
}
