"""Regression on the page: choosing a curve, the curve plot with its pieces, the fitted surface,
adding points with a value, and CSV of real targets."""

from __future__ import annotations

from .conftest import new_page, screenshot

STORE = "window.__backprop"
POS = (31, 111, 178)
NEG = (232, 135, 30)

# The colour drawn at a plane point (x1 across, y or x2 up, ±extent), as an [r, g, b] mean over a
# small square: where a line or a surface cell is, on the canvas the page drew.
COLOUR_AT = """([x, y, half]) => {
  const c = document.getElementById('boundary');
  const ratio = c.width / c.clientWidth, extent = window.__backprop.grid.extent;
  const px = ((x + extent) / (2 * extent)) * c.clientWidth * ratio, py = ((extent - y) / (2 * extent)) * c.clientHeight * ratio;
  const d = c.getContext('2d').getImageData(Math.round(px - half), Math.round(py - half), 2 * half + 1, 2 * half + 1).data;
  const out = [];
  for (let i = 0; i < d.length; i += 4) out.push([d[i], d[i + 1], d[i + 2]]);
  return out;
}"""


def near(pixels, rgb, tolerance=40) -> int:
    return sum(all(abs(p[k] - rgb[k]) <= tolerance for k in range(3)) for p in pixels)


def configure(page, config: dict, iterations: int = 0) -> None:
    """Change the session from a second socket, as another controller would, and wait till drawn."""
    page.evaluate("""([config, iterations]) => new Promise((done) => {
        const b = document.body.dataset;
        const s = new WebSocket(location.origin.replace('http', 'ws') + '/ws/' + b.session + '?token=' + b.token);
        s.onopen = () => {
          s.send(JSON.stringify({type: 'configure', config}));
          s.send(JSON.stringify({type: 'step', unit: 'iteration', count: Math.max(1, iterations), id: 'last'}));
        };
        s.onmessage = (m) => { if (typeof m.data === 'string' && JSON.parse(m.data).re === 'last') { s.close(); done(); } };
    })""", [config, iterations])
    page.wait_for_function(f"{STORE}.state.iteration >= {max(1, iterations)} && {STORE}.drawnSeq === {STORE}.state.seq")


CURVE = {"dataset": {"name": "curve"}, "loss": "mse", "features": ["x1"], "hidden": [6], "activation": "relu",
         "init": "he", "lr": 0.01}


def test_choosing_curve_brings_mse_and_x1_and_says_so(app_page):
    app_page.get_by_label("Dataset").select_option("curve")
    app_page.wait_for_function(f"{STORE}.config.dataset.name === 'curve'")
    config = app_page.evaluate(f"{STORE}.config")
    assert config["loss"] == "mse" and config["features"] == ["x1"]
    note = app_page.locator("#classes-note")
    assert "mse" in note.inner_text() and "x1" in note.inner_text()
    app_page.wait_for_function("document.getElementById('output-title').textContent === 'Fitted curve'")
    assert app_page.locator("#accuracy-name").inner_text() == "train R²"
    assert app_page.get_by_label("Feature x2", exact=True).is_disabled()
    assert app_page.locator('[data-field="loss"] option[value="bce"]').is_disabled()
    assert app_page.get_by_label("Classes").is_disabled()
    assert app_page.console_errors == []


def test_the_curve_plot_draws_the_prediction_and_each_units_piece(app_page):
    configure(app_page, CURVE, 400)
    curve = app_page.evaluate(f"{STORE}.state.curve")
    step = (curve["x1"] - curve["x0"]) / (len(curve["prediction"]) - 1)
    # the prediction's thick blue line passes where the state says, at a few x away from the ends
    samples = len(curve["prediction"])
    for k in (samples // 5, samples // 2, 4 * samples // 5):
        x, y = curve["x0"] + k * step, curve["prediction"][k]
        if abs(y) < 5.5:
            assert near(app_page.evaluate(COLOUR_AT, [x, y, 2]), POS) >= 3, (x, y)
    assert app_page.locator("#fit-legend").is_visible() and "bias" not in app_page.locator("#fit-legend").inner_text()
    # pieces: off, nothing of a live unit's piece is drawn away from the prediction; on, each is
    alive = [j for j, piece in enumerate(curve["pieces"]) if max(map(abs, piece)) > 0.5]
    assert alive, "some unit should be alive after training"
    app_page.get_by_label("Show each unit's piece of the fit").check()
    # the legend is written in the same paint that draws the pieces
    app_page.wait_for_function("document.getElementById('fit-legend').textContent.includes('bias')")
    legend = app_page.locator("#fit-legend").inner_text()
    assert all(unit in legend for unit in curve["units"]) and "bias" in legend
    colours = app_page.evaluate("import('/static/js/curve.js').then((m) => [0,1,2,3,4,5].map(m.pieceColor))")
    found = 0
    for j in alive:
        piece = curve["pieces"][j]
        for k in range(10, len(piece) - 10, 7):
            x, y = curve["x0"] + k * step, piece[k]
            if abs(y) < 5 and abs(y - curve["prediction"][k]) > 1 and abs(y) > 0.5:
                found += near(app_page.evaluate(COLOUR_AT, [x, y, 1]), colours[j], 30) > 0
                break
    assert found >= 1, "no piece drawn where the state puts it"
    screenshot(app_page, "curve-pieces")
    assert app_page.console_errors == []


def test_a_click_on_the_curve_adds_a_point_where_it_lands(app_page):
    configure(app_page, CURVE | {"dataset": {"name": "curve", "n": 20}})
    before = app_page.evaluate(f"{STORE}.dataset.train.length + {STORE}.dataset.test.length")
    app_page.get_by_label("Add points").check()
    box = app_page.locator("#boundary").bounding_box()
    app_page.locator("#boundary").click(position={"x": box["width"] * 0.75, "y": box["height"] * 0.25})
    app_page.wait_for_function(f"{STORE}.config.dataset.points && {STORE}.config.dataset.points.length === {before + 1}")
    assert app_page.evaluate(f"{STORE}.config.dataset.name") == "curve"
    x1, y = app_page.evaluate(f"{STORE}.config.dataset.points.at(-1)")
    assert abs(x1 - 3) < 0.1 and abs(y - 3) < 0.1  # three quarters across, a quarter down: (3, 3)


def test_the_surface_is_coloured_by_the_prediction_and_a_click_adds_the_sliders_value(app_page):
    configure(app_page, {"dataset": {"name": "multi_gauss", "n": 100}, "loss": "mse", "hidden": [8, 8],
                         "lr": 0.03}, 300)
    app_page.wait_for_function("document.getElementById('output-title').textContent === 'Fitted surface'")
    # the grid's highest and lowest predictions: blue where the fit is high, orange where it is low
    cells = app_page.evaluate(f"""(() => {{
        const g = {STORE}.grid, b = Array.from(g.boundary), r = g.resolution, e = g.extent;
        const at = (k) => [-e + (2 * e) * ((k % r) + 0.5) / r, e - (2 * e) * (Math.floor(k / r) + 0.5) / r, b[k]];
        const hi = b.indexOf(Math.max(...b)), lo = b.indexOf(Math.min(...b));
        return [at(hi), at(lo)];
    }})()""")
    (hx, hy, high), (lx, ly, low) = cells
    assert high > 160 and low < 95, "the fit should reach well above and below 0"
    for (x, y, rgb) in ((hx, hy, POS), (lx, ly, NEG)):
        pixels = app_page.evaluate(COLOUR_AT, [x, y, 1])
        mean = [sum(p[k] for p in pixels) / len(pixels) for k in range(3)]
        toward = [mean[k] - 250 for k in range(3)]  # away from the scale's white middle...
        wanted = [rgb[k] - 250 for k in range(3)]
        assert sum(t * w for t, w in zip(toward, wanted)) > 0, (x, y, mean)  # ...toward its end
    assert "predicted y" in app_page.locator("#fit-legend").inner_text()
    app_page.get_by_label("Add points").check()
    app_page.get_by_label("Target y of added points").fill("-3.5")
    before = app_page.evaluate(f"{STORE}.dataset.train.length + {STORE}.dataset.test.length")
    app_page.locator("#boundary").click(position={"x": 30, "y": 30})
    app_page.wait_for_function(f"{STORE}.config.dataset.points && {STORE}.config.dataset.points.length === {before + 1}")
    assert app_page.evaluate(f"{STORE}.config.dataset.points.at(-1)[2]") == -3.5
    assert app_page.evaluate(f"{STORE}.config.dataset.name") == "multi_gauss"
    screenshot(app_page, "surface")


def test_a_curve_csv_of_x1_y_rows_and_a_bad_target_named(app_page):
    configure(app_page, CURVE)
    bad = b"x1,y\n1,2\n2,7.5\n"
    app_page.locator("#csv-upload").set_input_files(files=[{"name": "fit.csv", "mimeType": "text/csv", "buffer": bad}])
    error = app_page.locator("#csv-error")
    error.wait_for(state="visible")
    assert "row 3" in error.inner_text() and "y = 7.5" in error.inner_text()
    good = b"x1,y\n-4,1.5\n0,-2\n3.5,0.25\n5,4\n"
    app_page.locator("#csv-upload").set_input_files(files=[{"name": "good.csv", "mimeType": "text/csv", "buffer": good}])
    app_page.wait_for_function(f"{STORE}.config.dataset.points && {STORE}.config.dataset.points.length === 4")
    assert app_page.evaluate(f"{STORE}.config.dataset.points") == [[-4, 1.5], [0, -2], [3.5, 0.25], [5, 4]]


def test_a_phone_reaches_the_curve_and_its_pieces(browser, live_server):
    page = new_page(browser, live_server, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page.goto(live_server + "/")
    page.wait_for_function(f"{STORE} && {STORE}.grid && {STORE}.config")
    configure(page, CURVE, 200)
    pieces = page.get_by_label("Show each unit's piece of the fit")
    pieces.scroll_into_view_if_needed()
    pieces.tap()
    page.wait_for_function(f"{STORE}.showPieces")
    plot = page.locator("#boundary").bounding_box()
    assert plot["width"] >= 300 and plot["x"] >= 0 and plot["x"] + plot["width"] <= 390
    toggle = pieces.bounding_box()
    assert toggle["height"] >= 20  # a finger can hit it
    screenshot(page, "curve-phone")
    page.context.close()
