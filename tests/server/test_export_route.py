"""GET /api/sessions/{id}/export: a file for each format, refusals naming the field."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from .conftest import connect, new_session


@pytest.mark.parametrize("fmt, media, ext", [("numpy", "text/x-python", "py"), ("pytorch", "text/x-python", "py"),
                                             ("jax", "text/x-python", "py"), ("json", "application/json", "json")])
def test_each_format_is_a_file_of_its_kind(client, fmt, media, ext):
    sid, token = new_session(client, {"hidden": [3], "dataset": {"n": 40}, "batch_size": 8})
    with connect(client, sid, token) as control:
        control.call(type="step", unit="iteration", count=2)
    response = client.get(f"/api/sessions/{sid}/export", params={"format": fmt})
    assert response.status_code == 200 and response.headers["content-type"].startswith(media)
    # the iteration the cursor is in: two whole iterations leave it on iteration 1's last op
    assert response.headers["content-disposition"] == f'attachment; filename="backprop-lab-{sid}-iteration-1.{ext}"'
    if fmt == "json":
        assert response.json()["iteration"] == 1
    else:
        compile(response.text, "export.py", "exec")  # a script, whole
        assert f"\nimport {'torch' if fmt == 'pytorch' else fmt}" in response.text  # the library asked for


def test_the_numpy_export_over_http_prints_the_states_gradients(client, tmp_path):
    sid, token = new_session(client, {"hidden": [3], "dataset": {"n": 40}, "batch_size": 8, "l2": 0.01})
    with connect(client, sid, token) as control:
        state, _ = control.call(type="step", unit="pass", count=2)
    script = tmp_path / "check.py"
    script.write_text(client.get(f"/api/sessions/{sid}/export").text)
    printed = json.loads(subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True,
                                        timeout=60).stdout.splitlines()[-1])
    for name, value in state["grads"].items():
        np.testing.assert_allclose(printed["grads"][name], value, rtol=1e-9, atol=1e-15)


def test_a_wrong_format_or_session_is_refused(client):
    sid, _ = new_session(client)
    response = client.get(f"/api/sessions/{sid}/export", params={"format": "matlab"})
    assert response.status_code == 422 and response.json()["error"]["field"] == "format"
    assert "numpy, pytorch, jax, json" in response.json()["error"]["message"]
    assert client.get("/api/sessions/nope/export").status_code == 404
