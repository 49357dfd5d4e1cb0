"""The gate view's focus + context (static/js/gateview.js) in the real browser, on graphs the
server really sends: the cursor's unit unfolded into readable gates, every other unit one box,
labels that never collide, edges that always land, and pixels where the cursor is."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from app.server.main import create_app
from tests.server.conftest import connect, new_session, small_settings

from .conftest import ARTIFACTS

CURSOR_RGB = (242, 194, 48)  # #f2c230


def record_gate_run(config: dict, ops: int, more: int = 0) -> dict:
    """The gate view's graph and its states after `ops` ops, then after each of `more` further ops."""
    with TestClient(create_app(small_settings())) as client:
        sid, token = new_session(client, config)
        with connect(client, sid, token) as peer:
            state, before = peer.call(type="view", view="gate")
            graph = [m for m in before if isinstance(m, dict) and m["type"] == "graph"][-1]
            idle = state
            state, _ = peer.call(type="step", unit="op", count=ops)
            later = [peer.call(type="step", unit="op")[0] for _ in range(more)]
    return {"graph": graph, "idle": idle, "state": state, "later": later}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """Messages from the server, written to JSON files and read back as the page's fixtures."""
    folder = tmp_path_factory.mktemp("gate-messages")
    recorded = {
        # 2-4-4-1: 107 nodes; 30 ops in, the cursor is on the first gate of h2.2
        "default": record_gate_run({}, 30, more=12),
        # 2-8-8-6-1: 453 nodes, the cursor inside the second hidden layer
        "large": record_gate_run({"hidden": [8, 8, 6]}, 150),
    }
    loaded = {}
    for name, messages in recorded.items():
        path = folder / f"{name}.json"
        path.write_text(json.dumps(messages))
        loaded[name] = json.loads(path.read_text())
    return loaded


@pytest.fixture
def gate_page(page, live_server):
    """A same-origin page with nothing of the app running, the module imported as window.gv."""
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(live_server + "/healthz")
    page.evaluate("""async () => {
      window.gv = await import('/static/js/gateview.js');
      window.fmt = await import('/static/js/format.js');
      document.body.replaceChildren();
      document.body.style.margin = '0';
    }""")
    page.errors = errors
    yield page
    assert not errors, errors


# the checks every layout must pass, computed in the page and returned as plain data
CHECK = """() => { window.check = (L) => {
  const ov = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
  const boxOf = (n) => ({x: n.x - n.w / 2, y: n.y - n.h / 2, w: n.w, h: n.h});
  const labelPairs = [], onNodes = [];
  const ls = L.labels;
  for (let i = 0; i < ls.length; i++)
    for (let j = i + 1; j < ls.length; j++)
      if (ov(ls[i], ls[j])) labelPairs.push([ls[i].owner, ls[i].kind, ls[j].owner, ls[j].kind]);
  for (const l of ls)
    for (const n of L.nodes.values())
      if (n.id !== l.owner && ov(l, boxOf(n))) onNodes.push([l.owner, l.kind, n.id]);
  const nodes = [...L.nodes.values()].map((n) => ({id: n.id, x: n.x, y: n.y, w: n.w, h: n.h, shape: n.shape,
    of: n.of, kind: n.node ? n.node.kind : null, label: n.label}));
  const edges = L.edges.map((e) => ({id: e.id, src: e.src, dst: e.dst, members: e.members.map((m) => m.id), points: e.points}));
  const labels = ls.map((l) => ({owner: l.owner, kind: l.kind, text: l.text, x: l.x, y: l.y, w: l.w, h: l.h, font: l.font}));
  return {labelPairs, onNodes, nodes, edges, labels, bounds: L.bounds};
}; }"""


def lay_out(page, graph, state, width, height, scale=1, pinned=None, focus=None):
    page.evaluate(CHECK)
    return page.evaluate("""([graph, state, w, h, scale, pinned, focus]) => {
      const f = focus || gv.gateFocus(graph, state, pinned);
      return {focus: f, ...check(gv.layoutGateView(graph, f, w, h, {scale}))};
    }""", [graph, state, width, height, scale, pinned, focus])


def units_with_gates(graph) -> set[str]:
    return {n["of"] for n in graph["nodes"] if n["kind"] != "input" and n["of"]}


def assert_readable(result, graph):
    assert result["labelPairs"] == [], "labels overlap each other"
    assert result["onNodes"] == [], "a label covers another node"
    ids = {n["id"] for n in result["nodes"]}
    focus = set(result["focus"])
    # every gate and leaf of a focused unit is drawn, each with a label to read
    for n in graph["nodes"]:
        if n["of"] in focus:
            assert n["id"] in ids, f"{n['id']} of the focused unit is not drawn"
            kinds = {lab["kind"] for lab in result["labels"] if lab["owner"] == n["id"]}
            assert kinds, f"{n['id']} has no label"
            if n["kind"] != "const":
                assert "value" in kinds, f"{n['id']} has no room for its value"
    # every other unit is exactly one fold, and none of its gates shows
    folds = [n for n in result["nodes"] if n["shape"] == "fold"]
    assert sorted(f["id"] for f in folds) == sorted(f"unit:{u}" for u in units_with_gates(graph) - focus)
    assert len({f["id"] for f in folds}) == len(folds)
    hidden = [n["id"] for n in graph["nodes"] if n["of"] not in focus and n["kind"] != "input"]
    assert not ids & set(hidden)


def test_the_default_network_mid_forward_is_readable_at_a_laptops_size(gate_page, runs):
    run = runs["default"]
    graph, state = run["graph"], run["state"]
    assert len(graph["nodes"]) == 107 and state["phase"] == "forward"
    cursor = next(n for n in graph["nodes"] if n["id"] == state["cursor"])
    assert cursor["kind"] == "gate"
    result = lay_out(gate_page, graph, state, 760, 470)
    assert result["focus"] == [cursor["of"]]
    assert_readable(result, graph)
    assert len(result["nodes"]) <= 30, "far fewer things drawn than the 107 gates"
    # it fits the canvas as laid out: nothing has to be zoomed out to be seen whole
    b = result["bounds"]
    assert b["x"] >= 0 and b["y"] >= 0 and b["x"] + b["w"] <= 760 and b["y"] + b["h"] <= 470
    # gates big enough to point at, text big enough to read
    gates = [n for n in result["nodes"] if n["shape"] == "gate"]
    assert gates and min(n["h"] for n in gates) >= 26
    sizes = [float(lab["font"].split("px")[0].split()[-1]) for lab in result["labels"]]
    assert min(sizes) >= 11


def test_a_value_box_holds_the_widest_number_the_formatter_writes(gate_page, runs):
    # (but for exponents of three digits, which the drawing squeezes into the same box)
    run = runs["default"]
    result = lay_out(gate_page, run["graph"], run["state"], 760, 470)
    values = [lab for lab in result["labels"] if lab["kind"] == "value"]
    widest = gate_page.evaluate("""([font]) => {
      const ctx = document.createElement('canvas').getContext('2d');
      ctx.font = font;
      const samples = [-0.0001234, -9999.987, -1.5e-30, -1.7e38, -0.999, 1234.5, -Infinity, NaN];
      return Math.max(...samples.map((v) => ctx.measureText(fmt.short(v)).width));
    }""", [values[0]["font"]])
    assert min(v["w"] for v in values) >= widest


def test_moving_the_cursor_to_another_unit_unfolds_it_and_folds_the_last(gate_page, runs):
    run = runs["default"]
    graph = run["graph"]
    of = {n["id"]: n["of"] for n in graph["nodes"]}
    first = run["state"]
    moved = next(s for s in run["later"] if of[s["cursor"]] != of[first["cursor"]])
    before = lay_out(gate_page, graph, first, 760, 470)
    after = lay_out(gate_page, graph, moved, 760, 470)
    old, new = of[first["cursor"]], of[moved["cursor"]]
    assert before["focus"] == [old] and after["focus"] == [new]
    ids_before = {n["id"] for n in before["nodes"]}
    ids_after = {n["id"] for n in after["nodes"]}
    assert first["cursor"] in ids_before and f"unit:{new}" in ids_before
    assert moved["cursor"] in ids_after and f"unit:{old}" in ids_after
    assert first["cursor"] not in ids_after and f"unit:{new}" not in ids_after
    assert_readable(after, graph)


def test_focus_follows_the_cursor_and_the_pin_and_shows_a_unit_when_idle(gate_page, runs):
    run = runs["default"]
    graph = run["graph"]
    cursor_unit = next(n["of"] for n in graph["nodes"] if n["id"] == run["state"]["cursor"])
    focus = gate_page.evaluate("""([graph, idle, state]) => [
      gv.gateFocus(graph, idle, null),
      gv.gateFocus(graph, state, 'unit:h2_3'),
      gv.gateFocus(graph, state, 'b2[2]'),
      gv.gateFocus(graph, state, state.cursor),
    ]""", [graph, run["idle"], run["state"]])
    assert cursor_unit == "h2_1"
    assert focus == [["h1_0"], [cursor_unit, "h2_3"], [cursor_unit, "h2_2"], [cursor_unit]]
    # two units unfolded at once (cursor and pin) still read cleanly
    result = lay_out(gate_page, graph, run["state"], 760, 470, pinned="unit:h2_3")
    assert result["focus"] == [cursor_unit, "h2_3"]
    assert_readable(result, graph)


def test_every_edge_lands_on_a_drawn_node_once(gate_page, runs):
    for name in ("default", "large"):
        run = runs[name]
        graph = run["graph"]
        result = lay_out(gate_page, graph, run["state"], 760, 470)
        ids = {n["id"] for n in result["nodes"]}
        edges = result["edges"]
        assert all(e["src"] in ids and e["dst"] in ids for e in edges)
        assert all(e["src"] != e["dst"] for e in edges)
        pairs = [(e["src"], e["dst"]) for e in edges]
        assert len(pairs) == len(set(pairs)), "an edge is drawn twice"
        assert len({e["id"] for e in edges}) == len(edges)
        # every graph edge between two different drawn things is among them
        drawn_as = {}
        for n in graph["nodes"]:
            drawn_as[n["id"]] = n["id"] if n["id"] in ids else f"unit:{n['of']}"
        wanted = {(drawn_as[e["src"]], drawn_as[e["dst"]]) for e in graph["edges"]} - {(a, a) for a in ids}
        assert wanted == set(pairs)
        assert sum(len(e["members"]) for e in edges) <= len(graph["edges"])
        assert all(len(e["points"]) >= 2 for e in edges)


def test_the_large_network_lays_out_cleanly_fast_and_hits_every_node(gate_page, runs):
    run = runs["large"]
    graph, state = run["graph"], run["state"]
    assert len(graph["nodes"]) == 453
    result = lay_out(gate_page, graph, state, 760, 470)
    assert_readable(result, graph)
    assert len(result["nodes"]) < 80
    hits = gate_page.evaluate("""([graph, state]) => {
      const L = gv.layoutGateView(graph, gv.gateFocus(graph, state), 760, 470);
      const out = [];
      for (const n of L.nodes.values()) out.push([n.id, gv.hitTestGateView(L, n.x, n.y)]);
      out.push(['nothing', gv.hitTestGateView(L, L.bounds.x - 50, L.bounds.y - 50)]);
      return out;
    }""", [graph, state])
    for node_id, hit in hits[:-1]:
        assert hit == {"kind": "node", "id": node_id}
    assert hits[-1][1] is None


def test_the_projector_scale_is_larger_and_still_clean(gate_page, runs):
    for name in ("default", "large"):
        run = runs[name]
        plain = lay_out(gate_page, run["graph"], run["state"], 1100, 700)
        big = lay_out(gate_page, run["graph"], run["state"], 1100, 700, scale=1.8)
        assert_readable(big, run["graph"])
        gate = lambda r: max(n["h"] for n in r["nodes"] if n["shape"] == "gate")  # noqa: E731
        assert gate(big) >= 1.7 * gate(plain)


DRAW = """async ([graph, state, w, h, scale, mode, pinned]) => {
  const canvas = document.createElement('canvas');
  canvas.style.cssText = `width:${w}px;height:${h}px;display:block;background:#fff`;
  document.body.replaceChildren(canvas);
  const ratio = window.devicePixelRatio || 1;
  canvas.width = w * ratio; canvas.height = h * ratio;
  const ctx = canvas.getContext('2d');
  const L = gv.layoutGateView(graph, gv.gateFocus(graph, state, pinned), w, h, {scale});
  // as the page does: zoom to fit, never magnified
  const b = L.bounds, k = Math.min(1, (w - 16) / b.w, (h - 16) / b.h);
  const tx = (w - b.w * k) / 2 - b.x * k, ty = (h - b.h * k) / 2 - b.y * k;
  ctx.setTransform(ratio * k, 0, 0, ratio * k, ratio * tx, ratio * ty);
  const freeze = (o) => { if (o && typeof o === 'object' && !Object.isFrozen(o)) { Object.freeze(o); Object.values(o).forEach(freeze); } return o; };
  // frozen: a renderer that wrote to the store would throw (modules are strict)
  const store = freeze({state: JSON.parse(JSON.stringify(state)), mode, hover: null, pinned, presenting: scale > 1});
  gv.drawGateView(ctx, L, store, 1234);
  const at = (id) => { const n = L.nodes.get(id); return {x: (n.x * k + tx) * ratio, y: (n.y * k + ty) * ratio, w: n.w * k * ratio, h: n.h * k * ratio}; };
  const near = (box, rgb) => {
    const x0 = Math.max(0, Math.floor(box.x - box.w / 2 - 6 * ratio)), y0 = Math.max(0, Math.floor(box.y - box.h / 2 - 6 * ratio));
    const data = ctx.getImageData(x0, y0, Math.ceil(box.w + 12 * ratio), Math.ceil(box.h + 12 * ratio)).data;
    let count = 0;
    for (let i = 0; i < data.length; i += 4)
      if (Math.abs(data[i] - rgb[0]) < 20 && Math.abs(data[i + 1] - rgb[1]) < 20 && Math.abs(data[i + 2] - rgb[2]) < 20 && data[i + 3] > 200) count++;
    return count;
  };
  const cursor = L.rep.get(state.cursor);
  const other = [...L.nodes.values()].find((n) => n.id !== cursor && n.shape === 'fold');
  return {cursor, atCursor: near(at(cursor), CURSOR), elsewhere: near(at(other.id), CURSOR)};
}"""


def draw(page, run, width, height, scale=1, mode="activation", pinned=None, state=None):
    page.evaluate(f"() => {{ window.CURSOR = {list(CURSOR_RGB)}; }}")
    return page.evaluate(DRAW, [run["graph"], state or run["state"], width, height, scale, mode, pinned])


def test_drawing_outlines_the_cursor_in_its_colour_and_never_touches_the_store(gate_page, runs):
    run = runs["default"]
    result = draw(gate_page, run, 760, 470)
    assert result["cursor"] == run["state"]["cursor"]
    assert result["atCursor"] > 40, "the cursor's ring is painted"
    assert result["elsewhere"] == 0, "and nowhere else"
    # gradient colouring, a pinned fold and the idle state (nothing known yet) all paint too
    assert draw(gate_page, run, 760, 470, mode="gradient", pinned="unit:h2_3")["atCursor"] > 40
    assert draw(gate_page, run, 760, 470, mode="auto", state=run["later"][-1])["atCursor"] > 40


@pytest.mark.parametrize("name, width, height, scale, pinned", [
    ("default", 760, 470, 1, None),
    ("default", 1100, 700, 1.8, "unit:h2_2"),
    ("large", 760, 470, 1, None),
    ("large", 1100, 700, 1.8, None),
])
def test_screenshots(gate_page, runs, name, width, height, scale, pinned):
    """For a person to look at: test-results/screenshots/gateview-*.png."""
    draw(gate_page, runs[name], width, height, scale, pinned=pinned)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"gateview-{name}-{width}x{height}{'-projector' if scale > 1 else ''}.png"
    gate_page.locator("canvas").screenshot(path=str(path))
    assert path.stat().st_size > 10_000
