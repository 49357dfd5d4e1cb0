"""The playground's routes: the replay as JSON with no non-finite number, refusals naming the
parameter and the column, the size limits, the scripts, the page and its Host check."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from app.engine.expression import MAX_GATES, MAX_LENGTH
from app.run.playground import playground
from app.server.playground import MAX_QUERY


def get(client, path="/api/playground", **params):
    response = client.get(path, params=params)
    assert "NaN" not in response.text and "Infinity" not in response.text, "non-finite number in the JSON"
    return response


def test_the_replay_holds_the_graph_each_step_and_the_gradients(client):
    body = get(client, expr="a*b + a", values="a:2,b:-3").json()
    assert body["type"] == "playground" and body["variables"] == ["a", "b"]
    assert body["value"] == -4.0 and body["grads"] == {"a": -2.0, "b": 2.0}
    assert [n["id"] for n in body["graph"]["nodes"]] == ["a", "b", "g1", "L"]
    assert [(s["phase"], s["node"]) for s in body["steps"]] == [("forward", "g1"), ("forward", "L"),
                                                                ("backward", "L"), ("backward", "g1")]
    assert body["steps"][3]["grads"] == {"g1": 1.0, "a": -2.0, "b": 2.0}
    rows = body["steps"][3]["explain"]["rows"]
    assert any(r.get("note") == "2 contributions add" and r["symbol"] == "dL/da" and r["result"] == "−2" for r in rows)


def test_the_answer_is_the_engines(client):
    body = get(client, expr="mse(relu(x*w + b))", values="x:1.5,w:0.8,b:-0.3,t:2").json()
    answer = playground("mse(relu(x*w + b))", {"x": 1.5, "w": 0.8, "b": -0.3, "t": 2.0})
    assert body["value"] == answer.value and body["grads"] == answer.grads


@pytest.mark.parametrize("params, field, column, words", [
    ({"expr": "tanh(x*w +", "values": "x:1,w:2"}, "expr", 11, "expected a number"),
    ({"expr": "x + y", "values": "x:1"}, "expr", 5, "y has no value"),
    ({"expr": "__import__('os')"}, "expr", 12, "is not part of an expression"),
    ({"expr": "x", "values": "x:nan"}, "values", 3, "finite number"),
    ({"expr": "x", "values": "x"}, "values", 1, "not name:number"),
    ({"values": "x:1"}, "expr", None, "is missing"),
    ({"expr": "x", "values": "x:1", "step": "3"}, "step", None, "not a parameter here"),
    ({"expr": "x" * (MAX_LENGTH + 1)}, "expr", MAX_LENGTH + 1, "at most"),
    ({"expr": "-" * MAX_GATES + "x", "values": "x:1"}, "expr", 1, f"at most {MAX_GATES} can be drawn"),
])
def test_refusals_name_the_parameter_and_the_column(client, params, field, column, words):
    response = get(client, **params)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == field and error.get("column") == column and words in error["message"], error


def test_a_repeated_parameter_is_refused(client):
    response = client.get("/api/playground?expr=x&expr=y&values=x:1")
    assert response.status_code == 422 and response.json()["error"]["field"] == "expr"


def test_a_refusal_offers_a_field_for_each_variable(client):
    body = get(client, expr="tanh(x*w + b", values="x:1").json()
    assert body["variables"] == ["x", "w", "b"]
    body = get(client, expr="x*w", values="x:oops").json()  # the values refused before the expression was read
    assert body["error"]["field"] == "values" and body["variables"] == ["x", "w"]


def test_a_query_too_long_is_refused_before_it_is_read(client):
    response = get(client, expr="x", values="x:" + "1" * MAX_QUERY)
    assert response.status_code == 422 and response.json()["error"]["field"] == "query"


@pytest.mark.parametrize("expr, values", [("log(x)", "x:0"), ("a / b", "a:1,b:0"), ("exp(x)", "x:1000"),
                                          ("(x) ** 0.5", "x:-1")])
def test_numbers_that_are_not_finite_are_null_and_explained(client, expr, values):
    response = get(client, expr=expr, values=values)
    body = response.json()
    assert response.status_code == 200 and body["problem"]
    nulls = [body["value"], *body["grads"].values()]
    assert None in nulls


@pytest.mark.parametrize("fmt", ["numpy", "jax"])
def test_the_scripts_download_and_print_the_answer(client, tmp_path, fmt):
    params = {"expr": "relu(x1*w1 + x2*w2 + b) ** 2", "values": "x1:0.5,x2:-1,w1:0.3,w2:-0.9,b:0.1"}
    response = client.get("/api/playground/export", params={**params, "format": fmt})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/x-python")
    assert response.headers["content-disposition"] == f'attachment; filename="backprop-lab-expression-{fmt}.py"'
    script = tmp_path / "check.py"
    script.write_text(response.text)
    out = json.loads(subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True,
                                    timeout=120).stdout.splitlines()[-1])
    body = get(client, **params).json()
    assert out["value"] == pytest.approx(body["value"], rel=1e-9)
    for name, g in body["grads"].items():
        assert out["grads"][name] == pytest.approx(g, rel=1e-9, abs=1e-15)


def test_the_export_refuses_an_unknown_format_by_name(client):
    response = client.get("/api/playground/export", params={"expr": "x", "values": "x:1", "format": "matlab"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "format" and "numpy, pytorch, jax" in response.json()["error"]["message"]


def test_the_page_lists_the_presets_and_links_back(client):
    response = client.get("/playground")
    assert response.status_code == 200 and "content-security-policy" in response.headers
    assert 'href="/"' in response.text and "/static/js/playground.js" in response.text
    assert "/playground?expr=mse%28relu%28x%2Aw+%2B+b%29%29&amp;values=x%3A1.5%2Cw%3A0.8%2Cb%3A-0.3%2Ct%3A2.0" in response.text


def test_the_page_refuses_a_host_it_does_not_serve(client):
    response = client.get("/playground", headers={"host": "evil.example"})
    assert response.status_code == 421


def test_the_main_page_links_to_the_playground(client):
    assert 'href="/playground"' in client.get("/").text
