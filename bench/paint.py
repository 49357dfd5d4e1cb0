"""How long does the page take to paint one full frame? Prints numbers; asserts nothing.

    .venv/bin/python bench/paint.py [--frames 200]

Starts the server and opens the page in headless Debian chromium at 1280×800 and 1920×1080.
For each of three graphs (the largest neuron view the limits allow: 7 features, 6 × 16 hidden,
5 classes; the gate view of the default 2-4-4-1; the largest gate view, 2-16-16-14-1 with
1,109 gates) it steps into the forward pass, then forces a full repaint (graph, labels, legend,
64×64 boundary, neuron thumbnails, metrics, charts, inspector) on every animation frame and
reads the page's own timing of it. Then it plays at 1,000 iterations a second and times the
frames that bring a new grid (every neuron map and the boundary repainted from new pixels).
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
from _server import percentile, running_server  # noqa: E402

FEATURES = ["x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"]
SCENES = {
    "neuron view, 7-16×6-5 (largest)": ({"hidden": [16] * 6, "features": FEATURES, "loss": "cross_entropy",
                                          "dataset": {"name": "gauss", "classes": 5, "n": 500}}, "neuron", 60),
    "gate view, 2-4-4-1 (default)": ({}, "gate", 40),
    "gate view, 2-16-16-14-1 (1,109 gates)": ({"hidden": [16, 16, 14]}, "gate", 300),
}
SCREENS = [(1280, 800), (1920, 1080)]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
STORE = "window.__backprop"

REPAINT = """(n) => new Promise((done) => {
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
})"""


PLAYING = """(ms) => new Promise((done) => {
    const out = [];
    let grid = window.__backprop.grid;
    const end = performance.now() + ms;
    // the page paints in its own animation-frame callback; read its time one frame later
    const tick = () => {
        const now = window.__backprop.grid;
        if (now !== grid) { grid = now; requestAnimationFrame(() => out.push(window.__paintMs)); }
        if (performance.now() < end) requestAnimationFrame(tick); else setTimeout(() => done(out), 50);
    };
    requestAnimationFrame(tick);
})"""


def measure(browser, port: int, screen: tuple[int, int], config: dict, view: str, ops: int, frames: int) -> list[float]:
    context = browser.new_context(viewport={"width": screen[0], "height": screen[1]}, bypass_csp=True)
    context.add_init_script("localStorage.setItem('backprop-lab:guide', 'done')")
    page = context.new_page()
    page.goto(f"http://127.0.0.1:{port}/#config=" + urllib.parse.quote(json.dumps(config)))
    page.wait_for_function(f"{STORE}.config && {STORE}.grid && {STORE}.state && {STORE}.config.hidden.join() === "
                           f"{json.dumps(','.join(map(str, config.get('hidden', [4, 4]))))}")
    if view == "gate":
        page.get_by_label("Gate view").check()
        page.wait_for_function(f"{STORE}.graph.view === 'gate' && {STORE}.state.view === 'gate'")
    seq = page.evaluate(f"{STORE}.state.seq")
    page.evaluate("document.getElementById('step-unit').value = 'op'")
    page.evaluate("window.__step = () => document.getElementById('step').click()")
    for _ in range(ops):  # into the forward pass: values, a cursor and a focused unit to draw
        page.evaluate("window.__step()")
    page.wait_for_function(f"{STORE}.state.seq >= {seq + ops} && {STORE}.drawnSeq === {STORE}.state.seq", timeout=30000)
    times = page.evaluate(REPAINT, frames)
    page.evaluate("document.getElementById('speed').value = 3")  # 10^3 iterations a second
    page.evaluate("document.getElementById('play').click()")
    page.wait_for_function(f"{STORE}.state.playing")
    playing = page.evaluate(PLAYING, 3000)
    page.evaluate("document.getElementById('play').click()")
    context.close()
    return times, playing


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=200)
    args = parser.parse_args()
    with running_server() as (port, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        for screen in SCREENS:
            for name, (config, view, ops) in SCENES.items():
                times, playing = measure(browser, port, screen, config, view, ops, args.frames)
                print(f"{screen[0]}×{screen[1]}  {name:40s} repaint: median {statistics.median(times):5.2f} ms, "
                      f"p95 {percentile(times, 0.95):5.2f} ms, max {max(times):5.2f} ms ({len(times)} frames)")
                print(f"{'':11s}{'':40s} new grid: median {statistics.median(playing):5.2f} ms, "
                      f"p95 {percentile(playing, 0.95):5.2f} ms ({len(playing)} frames while playing at 1000/s)")
        browser.close()


if __name__ == "__main__":
    main()
