"""How fast is the math core? Prints numbers; asserts nothing.

    .venv/bin/python bench/engine.py

1. full-batch training iterations per second: 2-8-8-1 tanh/bce on 500 xor points;
2. one forward pass over a 100×100 grid (float32, as the heatmaps use; float64 for contrast);
3. building the scalar gate graph of one example and running its forward + backward.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from app.engine import Trainer, build_example_graph, grid_points, parse_config  # noqa: E402
from app.engine.data import feature_matrix  # noqa: E402
from app.engine.mlp import hidden_and_output  # noqa: E402


def timed(fn, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    config = parse_config({"dataset": {"name": "xor", "n": 500, "test_fraction": 0}, "hidden": [8, 8],
                           "activation": "tanh", "loss": "bce", "batch_size": 500, "lr": 0.1})
    trainer = Trainer(config)
    trainer.train_iterations(50)  # warm up
    iterations = 3000
    start = time.perf_counter()
    trainer.train_iterations(iterations)
    elapsed = time.perf_counter() - start
    print(f"training  2-8-8-1 tanh/bce, 500 points, full batch: {iterations / elapsed:,.0f} iterations/s "
          f"({elapsed / iterations * 1e6:.0f} µs each)")

    grid = feature_matrix(grid_points(100), config.features)
    f32 = timed(lambda: hidden_and_output(trainer.arch, trainer.params, grid, np.float32), 200)
    f64 = timed(lambda: hidden_and_output(trainer.arch, trainer.params, grid, np.float64), 200)
    print(f"grid      forward over 100×100 points: float32 median {statistics.median(f32) * 1e3:.3f} ms, "
          f"float64 median {statistics.median(f64) * 1e3:.3f} ms (ratio {statistics.median(f64) / statistics.median(f32):.1f}×)")

    point, label = trainer.train.points[0], int(trainer.train.labels[0])
    gates = timed(lambda: build_example_graph(trainer.arch, trainer.params, config.features, point, label), 200)
    n_gates = len(build_example_graph(trainer.arch, trainer.params, config.features, point, label).tape.gates)
    print(f"gates     build + forward + backward of one example ({n_gates} gates): "
          f"median {statistics.median(gates) * 1e3:.3f} ms, p95 {sorted(gates)[int(0.95 * len(gates))] * 1e3:.3f} ms")
    step = timed(trainer.step, 500)
    print(f"ratio     one gate graph costs {statistics.median(gates) / statistics.median(step):.1f} full-batch training steps")


if __name__ == "__main__":
    main()
