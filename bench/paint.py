"""How long does the page take to paint one full frame? Prints numbers; asserts nothing.

    .venv/bin/python bench/paint.py [--frames 300]

Starts the server, opens the page in headless Debian chromium with a 2-8-8-1 network, lets
it train a little, then forces a full repaint (graph + 64×64 boundary + 16 neuron
thumbnails + legend + chart) on every animation frame and reads the page's own timing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import urllib.parse
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import running_server  # noqa: E402

CONFIG = {"hidden": [8, 8], "activation": "tanh", "loss": "bce", "dataset": {"name": "xor", "n": 500}}
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=300)
    args = parser.parse_args()
    with running_server() as (port, _):
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800}, bypass_csp=True)
            page.goto(f"http://127.0.0.1:{port}/#config=" + urllib.parse.quote(json.dumps(CONFIG)))
            page.wait_for_function("window.__backprop?.config?.hidden?.length === 2 && window.__backprop.grid?.maps === 16")
            page.click("#step")  # one iteration, so every node and edge has values to draw
            page.wait_for_function("window.__backprop.state.iteration === 1")
            times = page.evaluate("""(n) => new Promise((done) => {
                const out = [];
                // mark the store dirty, let the page's own loop paint on the next frame, read its time
                const tick = () => {
                    out.push(window.__paintMs);
                    if (out.length >= n) { done(out); return; }
                    window.__backprop.dirty = true;
                    requestAnimationFrame(() => requestAnimationFrame(tick));
                };
                window.__backprop.dirty = true;
                requestAnimationFrame(() => requestAnimationFrame(tick));
            })""", args.frames)
            browser.close()
        times = sorted(times)
        print(f"paint one full frame (2-8-8-1, 64×64 boundary, 16 thumbnails), {len(times)} frames at 1280×800: "
              f"median {statistics.median(times):.2f} ms, p95 {times[int(0.95 * len(times))]:.2f} ms, "
              f"max {times[-1]:.2f} ms")


if __name__ == "__main__":
    main()
