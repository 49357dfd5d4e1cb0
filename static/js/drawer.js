// Below 1000 px the settings live in a drawer that opens on demand, so the network gets the
// screen. On a wide screen the same panel is simply a column and the drawer state is moot.
import { set } from "./store.js";

const $ = (id) => document.getElementById(id);

export function bindDrawer({ store }) {
  const opener = $("settings-open");
  $("settings-open").addEventListener("click", () => set(store, "drawerOpen", !store.drawerOpen));
  $("settings-close").addEventListener("click", () => set(store, "drawerOpen", false));
  $("drawer-scrim").addEventListener("click", () => set(store, "drawerOpen", false));
  let shown = false;
  return {
    paint() {
      const open = store.drawerOpen;
      // a hidden settings panel (the presenter's choice) takes its button with it
      opener.hidden = $("controls").hidden;
      if (open === shown) return;
      shown = open;
      document.body.classList.toggle("drawer-open", open);
      $("drawer-scrim").hidden = !open;
      opener.setAttribute("aria-expanded", String(open));
      if (open) $("settings-close").focus(); else if (document.activeElement?.closest("#controls")) opener.focus();
    },
  };
}
