"""Stuck runs in the page: greyed dead units, framed saturated ones, the diagnosis, the seed
history and the sweep gallery."""

from __future__ import annotations

import json

from .conftest import screenshot

STORE = "window.__backprop"

# The pixels of one node's square on the graph canvas, laid out exactly as the page does it.
NODE_PIXELS = """async ([id, margin]) => {
  const { layoutGraph } = await import('/static/js/layout.js');
  const canvas = document.getElementById('graph');
  const store = window.__backprop;
  const layout = layoutGraph(store.graph, canvas.clientWidth, canvas.clientHeight);
  const p = layout.positions.get(id), half = layout.size / 2, ratio = canvas.width / canvas.clientWidth;
  const x = Math.round((p.x - half - margin) * ratio), y = Math.round((p.y - half - margin) * ratio);
  const side = Math.round((layout.size + 2 * margin) * ratio);
  const data = canvas.getContext('2d').getImageData(x, y, side, side).data;
  const pixels = [];
  for (let k = 0; k < data.length; k += 4) pixels.push([data[k], data[k + 1], data[k + 2], data[k + 3]]);
  return { pixels, side };
}"""


def load_preset(page, preset_id: str, check: str):
    page.get_by_label("Preset").select_option(preset_id)
    page.wait_for_function(f"{STORE}.config && {check} && {STORE}.state.iteration === 0")


def step_epochs(page, count: int):
    page.get_by_label("Step unit").select_option("epoch")
    for _ in range(count):
        seq = page.evaluate(f"{STORE}.state.seq")
        page.get_by_role("button", name="Step").click()
        page.wait_for_function(f"{STORE}.state.seq > {seq} && {STORE}.drawnSeq === {STORE}.state.seq")


def is_dead_grey(rgba) -> bool:
    r, g, b, _ = rgba
    return max(r, g, b) - min(r, g, b) < 25 and 90 < (r + g + b) / 3 < 200


def is_purple(rgba) -> bool:
    r, g, b, a = rgba
    return a > 200 and b > 150 and r > g + 30 and b > r + 30


def test_dead_units_are_greyed_and_explained(app_page):
    page = app_page
    load_preset(page, "dead-relus", f"{STORE}.config.lr === 3")
    assert page.locator("#diagnosis .finding.dead").count() == 0  # alive at the start
    step_epochs(page, 12)
    dead = page.evaluate(f"{STORE}.state.diagnostics.dead")
    assert dead, "the dead-relus preset should have dead units by now"
    finding = page.locator("#diagnosis .finding.dead").first
    assert "never fire" in finding.inner_text() or "are dead" in finding.inner_text()
    alive = [n["id"] for n in page.evaluate(f"{STORE}.graph.nodes") if n["kind"] == "neuron" and n["id"] not in dead]
    for node, expected in ((dead[0], True), *((a, False) for a in alive[:1])):
        square = page.evaluate(NODE_PIXELS, [node, 0])["pixels"]
        grey = sum(map(is_dead_grey, square)) / len(square)
        assert (grey > 0.5) == expected, f"{node}: {grey:.0%} of its square is the dead grey"
    screenshot(page, "stuck-dead-relus")
    # the gradient-norm chart has drawn something
    inked = page.evaluate("""() => { const c = document.getElementById('grad-chart');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let k = 3; k < d.length; k += 4) if (d[k] > 0) n++; return n; }""")
    assert inked > 500
    assert not page.console_errors


def test_saturated_units_are_framed(app_page):
    page = app_page
    load_preset(page, "diverging-lr", f"{STORE}.config.loss === 'mse'")
    step_epochs(page, 1)
    saturated = page.evaluate(f"{STORE}.state.diagnostics.saturated")
    assert saturated
    frame = page.evaluate(NODE_PIXELS, [saturated[0], 6])
    side, pixels = frame["side"], frame["pixels"]
    border = [pixels[i * side + j] for i in range(side) for j in range(side)
              if min(i, j, side - 1 - i, side - 1 - j) < 8]
    assert sum(map(is_purple, border)) > 20, "a saturated unit has a purple frame"
    assert "saturated" in page.locator("#diagnosis").inner_text()
    screenshot(page, "stuck-saturated")


def test_seed_history_goes_back_to_an_earlier_seed(app_page):
    page = app_page
    first = page.evaluate(f"{STORE}.config.weight_seed")
    for _ in range(2):
        seed = page.evaluate(f"{STORE}.config.weight_seed")
        page.get_by_role("button", name="Re-randomize weights").click()
        page.wait_for_function(f"{STORE}.config.weight_seed !== {seed}")
    chips = page.locator("#seed-history button")
    page.wait_for_function("document.querySelectorAll('#seed-history button').length === 3")
    page.locator(f"#seed-history button[data-seed='{first}']").click()
    page.wait_for_function(f"{STORE}.config.weight_seed === {first} && {STORE}.state.weight_seed === {first}")
    assert page.get_by_label("Weight seed").input_value() == str(first)
    assert chips.count() == 3
    # the link reproduces the run: it carries both seeds
    assert f"%22weight_seed%22%3A{first}" in page.url and "%22seed%22%3A0" in page.url


def test_a_sweep_fills_the_gallery_and_a_click_loads_that_seed(app_page):
    page = app_page
    load_preset(page, "xor-unlucky", f"{STORE}.config.weight_seed === 8")
    page.get_by_label("Seeds to sweep").select_option("8")
    page.get_by_label("Iterations per seed").fill("300")
    page.get_by_role("button", name="Sweep seeds").click()
    gallery = page.locator("#gallery")
    gallery.wait_for(state="visible")
    page.wait_for_function(f"{STORE}.sweep && {STORE}.sweep.thumbnails", timeout=60_000)
    cards = gallery.locator("button.seed-card")
    assert cards.count() == 8
    results = page.evaluate(f"{STORE}.sweep.final.results")
    assert {r["weight_seed"] for r in results} == {int(cards.nth(k).get_attribute("data-seed")) for k in range(8)}
    verdicts = [cards.nth(k).get_attribute("class").split()[1] for k in range(8)]
    assert verdicts == sorted(verdicts, key=["stuck", "diverged", "ok"].index)  # stuck first
    summary = gallery.locator("h3").inner_text()
    counts = {v: verdicts.count(v) for v in ("ok", "stuck", "diverged")}
    assert f"8 seeds × 300 iterations: {counts['ok']} ok, {counts['stuck']} stuck" in summary
    # every thumbnail is painted: some of its pixels are the boundary's orange or blue
    painted = page.evaluate("""() => [...document.querySelectorAll('#gallery canvas')].map(c => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let k = 0; k < d.length; k += 4) if (Math.abs(d[k] - d[k + 2]) > 40) n++; return n; })""")
    assert len(painted) == 8 and all(n > 0 for n in painted)
    screenshot(page, "stuck-sweep-gallery")
    chosen = cards.first
    seed = int(chosen.get_attribute("data-seed"))
    chosen.click()
    page.wait_for_function(f"{STORE}.state.weight_seed === {seed} && {STORE}.state.iteration === 0")
    assert gallery.is_hidden()
    result = next(r for r in results if r["weight_seed"] == seed)
    # train it as long as the sweep did (100 training points, batches of 10: 30 epochs): the
    # numbers the gallery showed, exactly
    step_epochs(page, 30)
    state = page.evaluate(f"{STORE}.state")
    assert state["iteration"] == 300
    assert (state["loss"], state["accuracy"], state["test_accuracy"]) == \
        (result["loss"], result["accuracy"], result["test_accuracy"])
    assert not page.console_errors


CARD_SEEDS = "[...document.querySelectorAll('#gallery button.seed-card')].map(c => +c.dataset.seed)"


def wait_for_cards(page, seeds: list[int]):
    """The gallery is redrawn on the next frame after a choice: wait for exactly these cards, in this order."""
    page.wait_for_function(f"JSON.stringify({CARD_SEEDS}) === {json.dumps(json.dumps(seeds, separators=(',', ':')))}")


def test_the_gallery_draws_the_points_and_sorts_and_filters(app_page):
    page = app_page
    load_preset(page, "xor-unlucky", f"{STORE}.config.weight_seed === 8")
    page.get_by_label("Seeds to sweep").select_option("8")
    page.get_by_label("Iterations per seed").fill("200")
    page.get_by_role("button", name="Sweep seeds").click()
    page.wait_for_function(f"{STORE}.sweep && {STORE}.sweep.thumbnails", timeout=60_000)
    results = page.evaluate(f"{STORE}.sweep.final.results")
    # the training points are on every thumbnail, in their class colours (orange, blue at full strength;
    # the boundary under them is lightened, so these pixels are the points)
    classed = page.evaluate("""() => [...document.querySelectorAll('#gallery canvas')].map(c => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const near = (k, [r, g, b]) => Math.abs(d[k] - r) + Math.abs(d[k + 1] - g) + Math.abs(d[k + 2] - b) < 30;
        let n = [0, 0]; for (let k = 0; k < d.length; k += 4) { if (near(k, [232, 135, 30])) n[0]++; if (near(k, [31, 111, 178])) n[1]++; }
        return n; })""")
    assert len(classed) == 8 and all(orange > 20 and blue > 20 for orange, blue in classed), classed
    # by final loss: lowest first (a diverged seed, with no loss, last)
    page.get_by_label("Sort seeds by").select_option("loss")
    by_loss = [r["weight_seed"] for r in sorted(results, key=lambda r: r["loss"] if r["loss"] is not None else float("inf"))]
    wait_for_cards(page, by_loss)
    # by test accuracy: best first
    page.get_by_label("Sort seeds by").select_option("test")
    by_test = [r["weight_seed"] for r in sorted(results, key=lambda r: -(-1 if r["test_accuracy"] is None else r["test_accuracy"]))]
    wait_for_cards(page, by_test)
    # filtered by verdict: exactly the seeds with that verdict, still in the chosen order
    for verdict in ("ok", "stuck"):
        page.get_by_label("Show seeds").select_option(verdict)
        verdict_of = {r["weight_seed"]: r["verdict"] for r in results}
        wait_for_cards(page, [s for s in by_test if verdict_of[s] == verdict])
    page.get_by_label("Show seeds").select_option("all")
    page.get_by_label("Sort seeds by").select_option("verdict")
    rank = ["stuck", "diverged", "ok"].index
    wait_for_cards(page, [r["weight_seed"] for r in sorted(results, key=lambda r: rank(r["verdict"]))])  # stuck first
    screenshot(page, "stuck-gallery-sorted")
    # other data than the sweep's: its points are not drawn over boundaries that never saw them
    page.get_by_label("Close the sweep gallery").click()
    noise = page.get_by_label("Noise")
    noise.fill("0.3")
    noise.dispatch_event("change")
    page.wait_for_function(f"{STORE}.config.dataset.noise === 0.3")
    page.locator("#gallery-toggle").check()
    # the gallery is redrawn on the page's next paint after it opens (CI once read it a frame early)
    page.wait_for_function("document.querySelector('#gallery .hint')?.innerText.includes('points are not drawn')")
    assert not page.console_errors
