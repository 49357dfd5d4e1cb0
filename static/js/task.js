// What kind of fit the run is, read off the server's own lists (hello.choices, each stated once
// as the config's type): classes on the plane (a decision boundary), a real target on the plane
// (a fitted surface) or a real target of one input (a curve).
import { percent, rSquared, short } from "./format.js";

export function task(store) {
  return taskOf(store.config?.dataset?.name, store.hello?.choices);
}

/** The task of dataset `name` (a sweep's config may name another than the page's). */
export function taskOf(name, choices = {}) {
  if ((choices.one_input_datasets || []).includes(name)) return "curve";
  if ((choices.regression_datasets || []).includes(name)) return "surface";
  return "classes";
}

export const isRegression = (store) => task(store) !== "classes";

/** The size of a regression target: the surface's colour scale and the curve's axis run ±this. */
export const targetLimit = (store) => store.hello?.limits?.target ?? 6;

/** How good the fit is, in the task's own terms: the share right, or R². */
export function score(store, state = store.state, test = false) {
  if (!state) return null;
  return (isRegression(store) ? state[test ? "test_r2" : "r2"] : state[test ? "test_accuracy" : "accuracy"]) ?? null;
}

/** A score as it is written: "93.0%" for classes, "0.93" for R² (which can fall below 0). */
export function scoreText(store, value, digits = 1) {
  return isRegression(store) ? rSquared(value) : percent(value, digits);
}

/** The score's name: the metrics, the charts and the sweep cards say it. */
export const scoreName = (store) => (isRegression(store) ? "R²" : "acc.");

/** What the output panel is called. */
export const panelTitle = (store) => ({ classes: "Decision boundary", surface: "Fitted surface", curve: "Fitted curve" })[task(store)];

/** A point as the learner reads it: its class, or its target y, and where it is. */
export function pointWords(store, point) {
  const kind = task(store);
  if (kind === "curve") return `y = ${short(point[1])} at x1 = ${short(point[0])}`;
  const where = `(${short(point[0])}, ${short(point[1])})`;
  return kind === "surface" ? `target y = ${short(point[2])} at ${where}` : `class ${point[2]} at ${where}`;
}
