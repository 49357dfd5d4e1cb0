// Zoom and pan for a canvas drawing: the wheel zooms about the pointer, a drag pans, two
// fingers pinch, a double-click (or the page's "fit" button) resets. Drawings are laid out in
// their own coordinates; the viewport maps them to the canvas as screen = world · k + t.
// A press that barely moves is a tap, handed to `onTap`, so a tap still pins a node on a phone.

const TAP_SLOP = 6; // px a press may wander and still count as a tap
const MIN_ZOOM = 0.2, MAX_ZOOM = 8;

export function createViewport() {
  return { k: 1, tx: 0, ty: 0, user: false };
}

/** The transform that shows `bounds` whole and centred in a width × height canvas, never magnified. */
export function fitTransform(bounds, width, height, margin = 0) {
  const k = Math.min(1, (width - 2 * margin) / Math.max(1, bounds.w), (height - 2 * margin) / Math.max(1, bounds.h));
  return { k, tx: (width - bounds.w * k) / 2 - bounds.x * k, ty: (height - bounds.h * k) / 2 - bounds.y * k };
}

/** Put the viewport back to `fit` (a fitTransform), forgetting the user's zoom. */
export function resetViewport(view, fit) {
  Object.assign(view, fit, { user: false });
}

export function toWorld(view, x, y) {
  return { x: (x - view.tx) / view.k, y: (y - view.ty) / view.k };
}

function zoomAbout(view, x, y, factor) {
  const k = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, view.k * factor));
  const f = k / view.k;
  view.tx = x - (x - view.tx) * f;
  view.ty = y - (y - view.ty) * f;
  view.k = k;
  view.user = true;
}

/**
 * Wire a canvas to a viewport. `onChange()` after every zoom or pan; `onTap(x, y, event)` for a
 * press that did not move (canvas coordinates); `onHover(x, y, event)` / `onLeave()` for a mouse
 * moving with no button down; `onReset()` on a double-click.
 */
export function bindViewport(canvas, view, { onChange, onTap, onHover, onLeave, onReset }) {
  const pointers = new Map(); // pointerId → {x, y} in canvas coordinates
  let press = null; // {x, y, moved} of a single pointer's press
  let pinch = null; // {distance, k} when two pointers are down

  const local = (e) => {
    const rect = canvas.getBoundingClientRect();
    return { x: e.clientX - rect.left, y: e.clientY - rect.top };
  };
  const spread = () => {
    const [a, b] = [...pointers.values()];
    return { d: Math.hypot(a.x - b.x, a.y - b.y), x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
  };

  canvas.addEventListener("pointerdown", (e) => {
    if (e.pointerType === "mouse" && e.button !== 0) return;
    const p = local(e);
    pointers.set(e.pointerId, p);
    if (pointers.size === 1) press = { ...p, moved: false };
    if (pointers.size === 2) { pinch = { ...spread(), k: view.k }; press = null; }
  });
  canvas.addEventListener("pointermove", (e) => {
    const p = local(e);
    if (!pointers.has(e.pointerId)) { if (e.pointerType === "mouse") onHover?.(p.x, p.y, e); return; }
    const last = pointers.get(e.pointerId);
    pointers.set(e.pointerId, p);
    if (pinch && pointers.size === 2) {
      // the fingers' spread zooms about their midpoint, and the midpoint moving pans
      const now = spread();
      view.tx += now.x - pinch.x;
      view.ty += now.y - pinch.y;
      zoomAbout(view, now.x, now.y, (pinch.k * now.d) / Math.max(1, pinch.d) / view.k);
      pinch.x = now.x;
      pinch.y = now.y;
      onChange?.();
      return;
    }
    if (!press) return;
    if (!press.moved && Math.hypot(p.x - press.x, p.y - press.y) < TAP_SLOP) return;
    if (!press.moved) { press.moved = true; canvas.setPointerCapture?.(e.pointerId); canvas.classList.add("panning"); }
    view.tx += p.x - last.x;
    view.ty += p.y - last.y;
    view.user = true;
    onChange?.();
  });
  const release = (e, cancelled) => {
    if (!pointers.has(e.pointerId)) return;
    pointers.delete(e.pointerId);
    if (pointers.size < 2) pinch = null;
    canvas.classList.remove("panning");
    if (press && !press.moved && !cancelled && pointers.size === 0) {
      const p = local(e);
      onTap?.(p.x, p.y, e);
    }
    if (pointers.size === 0) press = null;
  };
  canvas.addEventListener("pointerup", (e) => release(e, false));
  canvas.addEventListener("pointercancel", (e) => release(e, true));
  canvas.addEventListener("pointerleave", (e) => { if (e.pointerType === "mouse" && !pointers.size) onLeave?.(); });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault(); // the wheel zooms the graph instead of scrolling the page under it
    const p = local(e);
    zoomAbout(view, p.x, p.y, Math.exp(-e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.0015)));
    onChange?.();
  }, { passive: false });
  canvas.addEventListener("dblclick", () => onReset?.());
}
