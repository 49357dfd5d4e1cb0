"""The loss and gradient-norm charts (static/js/charts.js) drawn from made-up stores into canvases
of the sizes the page gives them: every label readable (none overlapping, none cut off by the
canvas edge), every line named, the lines really drawn, and screenshots to look at."""

from __future__ import annotations

import math

import pytest

from .conftest import ARTIFACTS

SIZES = [(360, 120), (600, 140), (900, 300)]

# Draw one chart into a fresh canvas of the given CSS size; the store is frozen all the way down,
# so a chart that writes into it throws instead of passing.
DRAW = """async ({kind, width, height, store, id}) => {
  const charts = await import('/static/js/charts.js');
  const freeze = (o) => { if (o && typeof o === 'object') { Object.values(o).forEach(freeze); Object.freeze(o); } return o; };
  const figure = document.createElement('figure');
  figure.style.cssText = 'margin: 0 0 12px; padding: 8px; background: #fff; display: inline-block; border: 1px solid #dde1e8;';
  const canvas = document.createElement('canvas');
  canvas.id = id;
  canvas.style.cssText = `display: block; width: ${width}px; height: ${height}px;`;
  figure.append(canvas);
  document.getElementById('gallery').append(figure);
  const draw = kind === 'loss' ? charts.drawLossChart : charts.drawGradChart;
  const result = draw(canvas, freeze(store));
  return { ...result, width: canvas.clientWidth, height: canvas.clientHeight };
}"""

# How many pixels inside a box are within `tolerance` of a colour.
COLOUR_COUNT = """({id, box, rgb, tolerance}) => {
  const canvas = document.getElementById(id);
  const ratio = canvas.width / canvas.clientWidth;
  const data = canvas.getContext('2d').getImageData(Math.round(box.x * ratio), Math.round(box.y * ratio),
    Math.round(box.w * ratio), Math.round(box.h * ratio)).data;
  let n = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] > 200 && Math.abs(data[i] - rgb[0]) <= tolerance && Math.abs(data[i + 1] - rgb[1]) <= tolerance
        && Math.abs(data[i + 2] - rgb[2]) <= tolerance) n++;
  }
  return n;
}"""

POS = (31, 111, 178)
NEG = (232, 135, 30)


def loss_history(n=300, first=0, test=True):
    """A loss falling from about 0.7 towards 0.05 with a little wobble; the test loss a bit above."""
    out = []
    for i in range(n):
        it = first + i
        loss = 0.05 + 0.65 * math.exp(-i / 60) + 0.015 * math.sin(i / 3)
        out.append({"iteration": it, "loss": loss, "test": (loss * 1.12 + 0.02) if test else None})
    return out


def vanishing(n=200, layers=6, dead=None):
    """Per-layer norms: the first layer fades to 1e-7, each later one less, the last stays near 0.1;
    layer `dead` (index) has no gradient at all."""
    out = []
    for i in range(n):
        t = i / max(1, n - 1)
        norms = []
        for l in range(layers):
            share = 1 - l / max(1, layers - 1)  # 1 for the first layer, 0 for the last
            exponent = -1 - 6 * share * t + 0.1 * math.sin(i / 5 + l)
            norms.append(0.0 if l == dead else 10**exponent)
        out.append({"iteration": i * 5, "norms": norms})
    return out


def store(**kw):
    base = {"history": [], "gradHistory": [], "presenting": False}
    return {**base, **kw}


@pytest.fixture
def gallery(page, live_server):
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server + "/")
    # the app's own layout and canvases are not under test: a blank white sheet for the charts
    page.evaluate("""() => {
      document.querySelectorAll('link[rel=stylesheet]').forEach((l) => l.remove());
      document.body.replaceChildren();
      document.body.style.cssText = 'margin: 0; padding: 12px; background: #f6f7f9;';
      const g = document.createElement('div'); g.id = 'gallery'; document.body.append(g);
    }""")
    return page


def draw(page, kind, width, height, st, name):
    out = page.evaluate(DRAW, {"kind": kind, "width": width, "height": height, "store": st, "id": name})
    if width and height:  # a zero-sized element has nothing to photograph
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.locator(f"#{name}").screenshot(path=str(ARTIFACTS / f"{name}.png"))
    return out


def texts(result):
    return [label["text"] for label in result["labels"]]


def check_layout(result):
    """No two text boxes overlap, and each lies wholly inside the canvas."""
    labels, width, height = result["labels"], result["width"], result["height"]
    for label in labels:
        assert label["x"] >= 0 and label["y"] >= 0, label
        assert label["x"] + label["w"] <= width + 1e-6 and label["y"] + label["h"] <= height + 1e-6, (label, width, height)
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            apart = (a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"]
                     or a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"])
            assert apart, f"{a} overlaps {b}"


def x_ticks(result):
    """Tick labels under the plot: the row below its bottom edge, except the axis name."""
    plot = result["plot"]
    return [label for label in result["labels"]
            if label["y"] >= plot["y"] + plot["h"] and label["text"] != "iteration"]


def y_ticks(result):
    plot = result["plot"]
    return [label for label in result["labels"] if label["x"] + label["w"] <= plot["x"]]


def suffix(presenting):
    return "-present" if presenting else ""


@pytest.mark.parametrize("presenting", [False, True])
@pytest.mark.parametrize(("width", "height"), SIZES)
def test_loss_chart(gallery, width, height, presenting):
    name = f"charts-loss-{width}x{height}{suffix(presenting)}"
    result = draw(gallery, "loss", width, height, store(history=loss_history(), presenting=presenting), name)
    check_layout(result)
    words = texts(result)
    assert words.count("loss") == 1 and words.count("train") == 1 and words.count("test") == 1
    assert "iteration" in words
    ticks = x_ticks(result)
    assert len(ticks) >= 2, words
    assert all(t["text"].isdigit() for t in ticks), ticks
    values = [int(t["text"]) for t in ticks]
    assert values == sorted(values) and len(set(values)) == len(values)
    # nice steps: consecutive ticks kept a whole number of 1, 2 or 5 × 10^k apart
    assert min(b - a for a, b in zip(values, values[1:])) in {10, 20, 50, 100, 200, 500}
    assert {"0"} < {t["text"] for t in y_ticks(result)}
    assert gallery.evaluate(COLOUR_COUNT, {"id": name, "box": result["plot"], "rgb": POS, "tolerance": 12}) > 50


@pytest.mark.parametrize("presenting", [False, True])
@pytest.mark.parametrize(("width", "height"), SIZES)
def test_gradient_chart(gallery, width, height, presenting):
    name = f"charts-grad-{width}x{height}{suffix(presenting)}"
    result = draw(gallery, "grad", width, height, store(gradHistory=vanishing(layers=6, dead=2), presenting=presenting), name)
    check_layout(result)
    words = texts(result)
    for l in range(1, 7):
        assert words.count(f"L{l}") == 1, words
    assert "L7" not in words
    assert any(w.startswith("gradient") for w in words)
    assert len(x_ticks(result)) >= 2
    decades = {t["text"] for t in y_ticks(result)}
    assert "0" in decades, "a layer with no gradient needs the floor row"
    assert len(decades - {"0"}) >= 2 and all(d in {"1", "10"} or d.startswith("10") for d in decades - {"0"})
    # layer labels sit right of the plot, at the lines' ends
    plot = result["plot"]
    assert all(label["x"] >= plot["x"] + plot["w"] for label in result["labels"] if label["text"].startswith("L"))
    first_layer = gallery.evaluate(COLOUR_COUNT, {"id": name, "box": plot, "rgb": NEG, "tolerance": 12})
    last_layer = gallery.evaluate(COLOUR_COUNT, {"id": name, "box": plot, "rgb": POS, "tolerance": 12})
    assert first_layer > 30 and last_layer > 30


@pytest.mark.parametrize("presenting", [False, True])
def test_many_layers_ending_together_are_all_labelled(gallery, presenting):
    # ten layers whose lines all end at the same norm: the worst pile-up for the end labels
    history = [{"iteration": i, "norms": [10 ** (-2 + 0.2 * math.sin(i / 7 + l)) if i < 90 else 1e-2 for l in range(10)]}
               for i in range(100)]
    for width, height in ((360, 120), (600, 140)):
        name = f"charts-grad-10-layers-{width}x{height}{suffix(presenting)}"
        result = draw(gallery, "grad", width, height, store(gradHistory=history, presenting=presenting), name)
        check_layout(result)
        words = texts(result)
        assert [w for w in words if w.startswith("L")] and all(words.count(f"L{l}") == 1 for l in range(1, 11)), words


def test_no_test_set_and_a_diverged_stretch(gallery):
    history = loss_history(test=False)
    history[150:160] = [{**p, "loss": None} for p in history[150:160]]  # the server sends non-finite as null
    result = draw(gallery, "loss", 600, 140, store(history=history), "charts-loss-no-test")
    check_layout(result)
    words = texts(result)
    assert "train" in words and "test" not in words


@pytest.mark.parametrize("presenting", [False, True])
def test_empty_charts_say_what_will_appear(gallery, presenting):
    for points, (width, height) in zip((0, 1, 0), SIZES):
        st = store(history=loss_history(points), gradHistory=vanishing(points), presenting=presenting)
        for kind in ("loss", "grad"):
            result = draw(gallery, kind, width, height, st, f"charts-{kind}-empty-{width}x{height}{suffix(presenting)}")
            check_layout(result)
            words = texts(result)
            assert words[0] == "loss" or words[0].startswith("gradient"), "the title comes first"
            assert any(w.startswith("press play") for w in words), words


def test_long_runs_tick_in_thousands(gallery):
    history = loss_history(n=1500, first=18_000)
    history = [{**p, "iteration": 18_000 + i * 40} for i, p in enumerate(history)]
    result = draw(gallery, "loss", 600, 140, store(history=history), "charts-loss-long-run")
    check_layout(result)
    ticks = [t["text"] for t in x_ticks(result)]
    assert len(ticks) >= 2 and all(t.endswith("k") for t in ticks), ticks


def test_a_hidden_or_tiny_canvas_does_not_throw(gallery):
    # a collapsed panel gives the canvas no size at all; the next frame must not die on it
    st = store(history=loss_history(), gradHistory=vanishing(layers=12, dead=0))
    for width, height in ((0, 0), (120, 40), (40, 300)):
        for kind in ("loss", "grad"):
            result = draw(gallery, kind, width, height, st, f"charts-{kind}-tiny-{width}x{height}")
            assert result["plot"]["w"] >= 1 and result["plot"]["h"] >= 1
