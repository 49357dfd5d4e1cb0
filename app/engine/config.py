"""The one validated description of a run: data, features, network shape, loss, optimiser.

Every field of the config (docs/protocol.md) lives here with its limits. Anything that is wrong
raises ``ConfigError`` whose message names the field, the value and what is allowed, so
the server can forward it to a learner word for word.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from .activations import ACTIVATIONS as ACTIVATION_DEFINITIONS
from .losses import LOSSES as LOSS_DEFINITIONS

# Limits, in one place so that `hello.limits` can state exactly what is enforced.
MAX_HIDDEN_LAYERS = 6
MAX_WIDTH = 16
MAX_POINTS = 2000
MAX_CLASSES = 5
MAX_SEED = 2**32 - 1
COORD_LIMIT = 6.0
TARGET_LIMIT = 6.0  # a regression target's size: the fitted surface's colour scale runs from −6 to 6
MAX_LR = 10.0
MAX_REG = 10.0
MAX_NOISE = 1.0
MAX_TEST_FRACTION = 0.9
MAX_MOMENTUM = 0.999
MIN_POINTS = 4
MIN_WIDTH = 1
MIN_CLASSES = 2
MIN_BATCH_SIZE = 1

# Each choice is written once, as the type the model validates against; the tuples (and
# `hello.choices`) are read off it, so what the page offers is what a config accepts.
DatasetName = Literal["circle", "xor", "gauss", "spiral", "moons", "custom", "plane", "multi_gauss", "curve"]
Feature = Literal["x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"]
# the activations are defined in activations.py, each once; the config takes whichever are there
ActivationName = Literal[tuple(ACTIVATION_DEFINITIONS)]  # type: ignore[valid-type]
LossName = Literal[tuple(LOSS_DEFINITIONS)]  # type: ignore[valid-type]  # each loss is defined in losses.py
OptimizerName = Literal["sgd", "momentum", "adam"]
InitName = Literal["xavier", "he", "uniform", "normal", "zeros", "integers"]

MULTICLASS_DATASETS = ("gauss", "spiral", "custom")
# a real-valued target instead of a class: mse with one linear output, judged by R² (docs/protocol.md)
REGRESSION_DATASETS = ("plane", "multi_gauss", "curve")
ONE_INPUT_DATASETS = ("curve",)  # x1 only: its points are [x1, y]
FEATURES: tuple[str, ...] = get_args(Feature)
ONE_INPUT_FEATURES = tuple(f for f in FEATURES if "x2" not in f)


class ConfigError(ValueError):
    """A config (or a command built on one) that cannot be run, and why."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field} {message}" if field else message)
        self.field = field
        self.reason = message


def _fail(field: str, template: str, **ctx) -> PydanticCustomError:
    """An error raised by a model-level check, naming the field (relative to its model) itself."""
    return PydanticCustomError("field", template, {"field": field, **ctx})


def _between(lo: float, hi: float):
    """A validator that states the whole allowed range when a number falls outside it."""

    def check(value):
        if isinstance(value, float) and not math.isfinite(value):
            raise PydanticCustomError("range", "must be a finite number between {lo} and {hi}, got {got}",
                                      {"lo": lo, "hi": hi, "got": value})
        if not lo <= value <= hi:
            raise PydanticCustomError("range", "must be between {lo} and {hi}, got {got}",
                                      {"lo": lo, "hi": hi, "got": value})
        return value

    return AfterValidator(check)


Seed = Annotated[int, _between(0, MAX_SEED)]
Width = Annotated[int, _between(MIN_WIDTH, MAX_WIDTH)]


class _Strict(BaseModel):
    # strict: "3" is not 3 and true is not 1; extra="forbid": a typo is an error, not a no-op.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _point(value: Any) -> tuple[float, ...]:
    """A row of two or three numbers; what each means (and its range) depends on the dataset,
    so `DatasetConfig` checks that once it knows the dataset's name."""
    if not isinstance(value, (list, tuple)) or len(value) not in (2, 3):
        raise PydanticCustomError("point", "must be [x1, x2, label] (or [x1, x2, y], or [x1, y] for curve), got {got}",
                                  {"got": _short(value)})
    for k, number in enumerate(value):
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise PydanticCustomError("point", "has {got} in place {k}, which is not a number",
                                      {"k": k, "got": _short(number)})
        if not math.isfinite(number):
            raise PydanticCustomError("point", "has {got} in place {k}; every number must be finite",
                                      {"k": k, "got": number})
    return tuple(value)


def _row_problem(row: tuple, name: str, classes: int) -> str | None:
    """What is wrong with one given point of dataset `name`, or None."""
    regression, one_input = name in REGRESSION_DATASETS, name in ONE_INPUT_DATASETS
    columns = ("x1", "y") if one_input else ("x1", "x2", "y") if regression else ("x1", "x2", "label")
    if len(row) != len(columns):
        return f"must be [{', '.join(columns)}] for the {name} dataset, got {_short(list(row))}"
    *coords, last = row
    for coord_name, coord in zip(("x1", "x2"), coords):
        if not -COORD_LIMIT <= coord <= COORD_LIMIT:
            return f"has {coord_name} = {coord}, outside the plane's range -6 to 6"
    if regression:
        if not -TARGET_LIMIT <= last <= TARGET_LIMIT:
            return f"has y = {last}, outside the target's range -6 to 6"
        return None
    if not float(last).is_integer() or last < 0:
        return f"has label {last}; labels are whole numbers from 0"
    if last >= classes:
        return f"has label {int(last)}, but classes is {classes} so labels run from 0 to {classes - 1}"
    return None


Point = Annotated[Any, AfterValidator(_point)]


class DatasetConfig(_Strict):
    name: DatasetName = "xor"
    n: Annotated[int, _between(MIN_POINTS, MAX_POINTS)] = 200
    noise: Annotated[float, _between(0.0, MAX_NOISE)] = 0.1
    classes: Annotated[int, _between(MIN_CLASSES, MAX_CLASSES)] = 2
    seed: Seed = 0
    test_fraction: Annotated[float, _between(0.0, MAX_TEST_FRACTION)] = 0.5
    points: list[Point] | None = None

    @model_validator(mode="after")
    def _consistent(self):
        if self.classes > 2 and self.name not in MULTICLASS_DATASETS:
            raise _fail("classes", "is {k} but dataset '{name}' has 2 classes; use {multi} for more",
                        k=self.classes, name=self.name,
                        multi=", ".join(MULTICLASS_DATASETS[:-1]) + " or " + MULTICLASS_DATASETS[-1])
        if self.points is None:
            if self.name == "custom":
                raise _fail("points", "are required for the custom dataset (1 to {m} rows of [x1, x2, label])",
                            m=MAX_POINTS)
            return self
        if self.name not in ("custom", *REGRESSION_DATASETS):
            raise _fail("points", "are read only by the custom dataset and the regression datasets ({names}), "
                        "not by '{name}'", names=", ".join(REGRESSION_DATASETS), name=self.name)
        if not self.points or len(self.points) > MAX_POINTS:
            raise _fail("points", "has {n} rows; 1 to {m} are allowed", n=len(self.points), m=MAX_POINTS)
        for row, point in enumerate(self.points):
            problem = _row_problem(point, self.name, self.classes)
            if problem:
                raise _fail(f"points[{row}]", "{problem}", problem=problem)
        if self.name == "custom":  # labels are class numbers: 1.0 is the class 1
            object.__setattr__(self, "points", [(float(x1), float(x2), int(label)) for x1, x2, label in self.points])
        else:
            object.__setattr__(self, "points", [tuple(float(v) for v in point) for point in self.points])
        return self

    @property
    def regression(self) -> bool:
        return self.name in REGRESSION_DATASETS

    @property
    def size(self) -> int:
        return len(self.points) if self.points is not None else self.n


class Config(_Strict):
    dataset: DatasetConfig = DatasetConfig()
    features: list[Feature] = ["x1", "x2"]
    hidden: list[Width] = [4, 4]
    activation: ActivationName = "tanh"
    loss: LossName = "bce"
    optimizer: OptimizerName = "sgd"
    lr: Annotated[float, _between(0.0, MAX_LR)] = 0.03
    momentum: Annotated[float, _between(0.0, MAX_MOMENTUM)] = 0.9
    batch_size: Annotated[int, _between(MIN_BATCH_SIZE, MAX_POINTS)] = 10
    l2: Annotated[float, _between(0.0, MAX_REG)] = 0.0
    l1: Annotated[float, _between(0.0, MAX_REG)] = 0.0
    init: InitName = "xavier"
    weight_seed: Seed = 0

    @model_validator(mode="after")
    def _consistent(self):
        if not self.features:
            raise _fail("features", "must name at least one of {all}", all=", ".join(FEATURES))
        if len(set(self.features)) != len(self.features):
            raise _fail("features", "lists a feature twice: {got}", got=self.features)
        if len(self.hidden) > MAX_HIDDEN_LAYERS:
            raise _fail("hidden", "has {n} layers, at most {m} are allowed", n=len(self.hidden), m=MAX_HIDDEN_LAYERS)
        if self.dataset.regression:
            if self.loss != "mse":
                raise _fail("loss", "is '{loss}', but dataset '{name}' has a real-valued target: regression takes mse",
                            loss=self.loss, name=self.dataset.name)
            if self.dataset.name in ONE_INPUT_DATASETS and set(self.features) - set(ONE_INPUT_FEATURES):
                raise _fail("features", "include {bad}, but dataset '{name}' has one input, x1: use {ok}",
                            bad=", ".join(f for f in self.features if f not in ONE_INPUT_FEATURES),
                            name=self.dataset.name, ok=", ".join(ONE_INPUT_FEATURES))
        if self.loss == "bce" and self.dataset.classes != 2:
            raise _fail("loss", "'bce' needs 2 classes, but dataset.classes is {k}; use cross_entropy or mse",
                        k=self.dataset.classes)
        n = self.dataset.size
        if n - round(n * self.dataset.test_fraction) < 1:
            raise _fail("dataset.test_fraction", "is {f}, which leaves no training points out of {n}",
                        f=self.dataset.test_fraction, n=n)
        return self

    @property
    def classes(self) -> int:
        return self.dataset.classes

    @property
    def regression(self) -> bool:
        return self.dataset.regression

    @property
    def n_outputs(self) -> int:
        """bce: one sigmoid unit; mse: one unit for regression or two classes; otherwise one per class."""
        if self.loss == "bce" or self.dataset.regression or (self.loss == "mse" and self.classes == 2):
            return 1
        return self.classes

    @property
    def layer_sizes(self) -> list[int]:
        return [len(self.features), *self.hidden, self.n_outputs]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _field_path(loc: tuple) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.startswith("function-") or part in ("list[...]",):
            continue  # pydantic's internal validator names, not fields
        else:
            path += f".{part}" if path else str(part)
    return path


# Our custom errors already read as a sentence after the field name; pydantic's own
# messages ("Input should be ...") are rephrased into the same shape.
def _sentence(err: dict, known: dict[str, tuple[str, ...]]) -> tuple[str, str]:
    loc = tuple(err["loc"])
    kind, ctx, got = err["type"], err.get("ctx") or {}, err.get("input")
    field = _field_path(loc)
    if kind in ("range", "point"):
        return field, err["msg"]
    if kind == "field":  # a model-level check: loc is the model, ctx names the field within it
        inner = ctx["field"]
        return (f"{field}.{inner}" if field else inner), err["msg"]
    if kind == "extra_forbidden":
        fields = known.get(_field_path(loc[:-1]))
        return field, "is not a known field" + (f"; known fields here: {', '.join(fields)}" if fields else "")
    if kind == "literal_error":
        return field, f"must be one of {ctx.get('expected')}, got {_short(got)}"
    if kind == "missing":
        return field, "is required"
    if kind in ("int_type", "int_from_float", "int_parsing"):
        return field, f"must be a whole number, got {_short(got)}"
    if kind in ("float_type", "float_parsing", "finite_number"):
        return field, f"must be a finite number, got {_short(got)}"
    if kind in ("list_type", "tuple_type"):
        return field, f"must be a list, got {_short(got)}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return field, f"must be an object, got {_short(got)}"
    if kind == "string_type":
        return field, f"must be a string, got {_short(got)}"
    return field, f"is invalid: {err['msg']} (got {_short(got)})"


_CONFIG_FIELDS = {"": tuple(Config.model_fields), "dataset": tuple(DatasetConfig.model_fields)}


def config_error_from(exc: ValidationError, skip: int = 0,
                      known: dict[str, tuple[str, ...]] | None = None) -> ConfigError:
    """The first problem pydantic found, as one ConfigError naming field, value and allowed.

    `skip` drops leading location parts (a union's tag); `known` maps a field path to the
    field names allowed there, so an unknown field can be answered with the right ones."""
    err = exc.errors()[0]
    err = {**err, "loc": tuple(err["loc"])[skip:]}
    field, message = _sentence(err, _CONFIG_FIELDS if known is None else known)
    return ConfigError(field, message)


def parse_config(data: dict | None = None) -> Config:
    """Validate a (JSON-shaped) config; every missing field takes its default."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("config", f"must be an object, got {_short(data)}")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise config_error_from(exc) from None


def merge_config(current: Config, patch: dict) -> Config:
    """A partial config laid over the current one (nested objects merge, lists replace)."""
    if not isinstance(patch, dict):
        raise ConfigError("config", f"must be an object, got {_short(patch)}")
    merged = config_to_dict(current)
    for key, value in patch.items():
        if key == "dataset" and isinstance(value, dict):
            dataset = {**merged["dataset"], **value}
            # given points belong to the dataset they were given for; changing it drops them
            if "points" not in value and value.get("name", merged["dataset"]["name"]) != merged["dataset"]["name"]:
                dataset.pop("points", None)
            merged["dataset"] = dataset
        else:
            merged[key] = value
    return parse_config(merged)


def config_to_dict(config: Config) -> dict:
    """JSON-ready config; points appear only when given."""
    data = config.model_dump(mode="json")
    if data["dataset"].get("points") is None:
        data["dataset"].pop("points", None)
    else:
        data["dataset"]["points"] = [list(p) for p in config.dataset.points]
    return data


def limits() -> dict:
    """Every numeric limit a config is checked against (the `hello` message states them)."""
    return {
        "hidden_layers": MAX_HIDDEN_LAYERS, "width": MAX_WIDTH, "points": MAX_POINTS,
        "classes": MAX_CLASSES, "coordinate": COORD_LIMIT, "target": TARGET_LIMIT, "seed": MAX_SEED, "lr": MAX_LR,
        "l1": MAX_REG, "l2": MAX_REG, "noise": MAX_NOISE, "test_fraction": MAX_TEST_FRACTION,
        "momentum": MAX_MOMENTUM, "batch_size": MAX_POINTS,
        "points_min": MIN_POINTS, "width_min": MIN_WIDTH, "classes_min": MIN_CLASSES, "batch_size_min": MIN_BATCH_SIZE,
    }


def choices() -> dict:
    """Every value a config's choice fields accept (the `hello` message offers them)."""
    return {
        "datasets": list(get_args(DatasetName)), "multiclass_datasets": list(MULTICLASS_DATASETS),
        "regression_datasets": list(REGRESSION_DATASETS), "one_input_datasets": list(ONE_INPUT_DATASETS),
        "one_input_features": list(ONE_INPUT_FEATURES),
        "features": list(FEATURES), "activations": list(get_args(ActivationName)), "losses": list(get_args(LossName)),
        "optimizers": list(get_args(OptimizerName)), "inits": list(get_args(InitName)),
    }
