// The websocket: JSON commands out, messages and grids into the store (then to the listeners
// of the page's areas), acks after painting, and reconnection with backoff when the server goes away.
import { applyGrid, applyMessage, applyThumbnails, set } from "./store.js";
import { frameKind, parseGrid, parseThumbnails } from "./grid.js";

export function connect(store, sessionId, token, { onGone } = {}) {
  let ws = null;
  const listeners = [];
  let nextId = 1;
  let retry = 500;
  let gone = false;
  const pending = new Map(); // command id → what caused it (shown next to errors)

  function open() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = token ? `?token=${encodeURIComponent(token)}` : "";
    ws = new WebSocket(`${scheme}://${location.host}/ws/${sessionId}${query}`);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => { retry = 500; set(store, "connection", "open"); };
    ws.onmessage = (event) => {
      if (typeof event.data === "string") {
        const message = JSON.parse(event.data);
        applyMessage(store, message);
        if (message.type === "error" && message.code === "not_found" && message.re === undefined) {
          gone = true;
          set(store, "goneReason", message.message); // e.g. its server process stopped (a lecture hall)
        }
        const origin = message.re !== undefined ? pending.get(message.re) : undefined;
        for (const listener of listeners) listener(message, origin);
        if (message.re !== undefined && message.type !== "graph" && message.type !== "config") pending.delete(message.re);
      } else if (frameKind(event.data) === "grid") {
        applyGrid(store, parseGrid(event.data));
      } else {
        applyThumbnails(store, parseThumbnails(event.data));
      }
    };
    ws.onclose = () => {
      set(store, "connection", gone ? "gone" : "down");
      if (gone) { onGone?.(); return; }
      setTimeout(open, retry);
      retry = Math.min(retry * 2, 5000);
    };
  }

  function send(command, origin) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return null;
    const id = nextId++;
    pending.set(id, origin);
    ws.send(JSON.stringify({ ...command, id }));
    return id;
  }

  /** Tell the server every frame up to `seq` is on screen, so it may send the next. */
  function ack(seq) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "ack", seq }));
  }

  /** Call `listener(message, origin)` for every JSON message, after the store has taken it;
   * `origin` is the element whose command the message answers, if any. */
  function listen(listener) {
    listeners.push(listener);
  }

  // the page's areas register their listeners first; the socket opens once they have
  queueMicrotask(open);
  return { send, ack, listen };
}
