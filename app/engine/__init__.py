"""The math core: pure numpy (and pydantic for the config), nothing from the web layer."""

from .config import Config, ConfigError, choices, config_to_dict, limits, merge_config, parse_config
from .data import Dataset, feature_matrix, grid_points, make_dataset
from .gates import ExampleGraph, build_example_graph, gradient_arrays
from .initializers import init_params
from .mlp import Architecture, Backward, Forward, Params, backward, data_loss, forward, objective
from .optim import OptimizerState, optimizer_step
from .scalar import Tape, Value
from .topology import LOSS_ID, edge_id, neuron_graph, node_id
from .training import Evaluation, Split, Trainer, architecture, evaluate

__all__ = [
    "Architecture", "Backward", "Config", "ConfigError", "Dataset", "Evaluation", "ExampleGraph", "Forward",
    "LOSS_ID", "OptimizerState", "Params", "Split", "Tape", "Trainer", "Value", "architecture", "backward",
    "build_example_graph", "choices", "config_to_dict", "data_loss", "edge_id", "evaluate", "feature_matrix", "forward",
    "gradient_arrays", "grid_points", "init_params", "limits", "make_dataset", "merge_config", "neuron_graph",
    "node_id", "objective", "optimizer_step", "parse_config",
]
