"""Backprop Lab: watch backpropagation happen, one node at a time."""

import os

# Our matrices are tiny (hundreds of rows, at most 16 columns): a multi-threaded BLAS spends
# longer waking its threads than multiplying, and bench/engine.py measured single-threaded
# training at 1.8× the speed. Set before numpy loads; an explicit setting still wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

__version__ = "0.1.0"
