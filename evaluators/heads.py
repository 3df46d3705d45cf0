"""Small trained heads shipped as data: multinomial logistic regressions over a named feature vector.

A head is JSON (classes, feature names, standardisation, weights), so it is reviewed and versioned like
any other data file and runs on NumPy alone. `evaluators.train_heads` writes them; nothing here trains.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from simulator.errors import DataFileError

HEADS_DIR = Path(__file__).resolve().parent / "heads"
NGRAM_PREFIX = "ng:"  # a feature named "ng:sorry to" is 1 when the text contains that word pair


def decode(proba: dict[str, float], cutpoints: tuple[float, ...] | list[float] = (0.5, 1.5, 2.5)) -> int | None:
    """A score from class probabilities: not applicable if that is likelier than any score, else the expected
    score read against the cutpoints (rounded, by default: a kappa weighs near misses lightly, and so should
    the guess)."""
    numeric = {int(k): v for k, v in proba.items() if k != "na"}
    if proba.get("na", 0.0) > max(numeric.values()):
        return None
    return int(np.searchsorted(cutpoints, sum(k * v for k, v in numeric.items()) / sum(numeric.values())))


class LinearHead(BaseModel):
    """p(class | x) = softmax(W · (x - mean) / scale + b)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    classes: list[str] = Field(min_length=2, description="class labels, e.g. '0'..'3' or 'na'")
    features: list[str] = Field(min_length=1, description="the feature layout the weights expect")
    mean: list[float]
    scale: list[float]
    weights: list[list[float]] = Field(description="one row per class (or one row for a binary head)")
    bias: list[float]
    trained_on: str = Field(description="what data, how many examples, and the held-out score")

    @model_validator(mode="after")
    def _shapes(self) -> LinearHead:
        n = len(self.features)
        if len(self.mean) != n or len(self.scale) != n or any(len(row) != n for row in self.weights):
            raise ValueError(f"every weight row, mean and scale must have {n} values (one per feature)")
        if any(v <= 0 for v in self.scale):
            raise ValueError("every scale value must be positive")
        rows = 1 if len(self.classes) == 2 else len(self.classes)
        if len(self.weights) != rows or len(self.bias) != rows:
            raise ValueError(f"{len(self.classes)} classes need {rows} weight row(s) and bias value(s)")
        return self

    def model_post_init(self, _context) -> None:
        object.__setattr__(self, "_w", np.asarray(self.weights, dtype=np.float32))
        object.__setattr__(self, "_b", np.asarray(self.bias, dtype=np.float32))
        object.__setattr__(self, "_mean", np.asarray(self.mean, dtype=np.float32))
        object.__setattr__(self, "_scale", np.asarray(self.scale, dtype=np.float32))
        object.__setattr__(self, "_vocabulary", [f[len(NGRAM_PREFIX):] for f in self.features
                                                 if f.startswith(NGRAM_PREFIX)])
        object.__setattr__(self, "_phrase_index", {g: i for i, g in enumerate(self._vocabulary)})

    @property
    def vocabulary(self) -> list[str]:
        """The phrases among the features (see `NGRAM_PREFIX`), in feature order."""
        return self._vocabulary

    @property
    def phrase_index(self) -> dict[str, int]:
        """Each phrase's position in `vocabulary`."""
        return self._phrase_index

    def logits(self, x: np.ndarray) -> np.ndarray:
        return ((x - self._mean) / self._scale) @ self._w.T + self._b

    def proba(self, x: np.ndarray) -> dict[str, float]:
        """Class probabilities for one feature vector laid out as `features`."""
        z = self.logits(np.asarray(x, dtype=np.float32))
        if len(self.classes) == 2:
            p = float(1 / (1 + np.exp(-z[0])))
            return {self.classes[0]: 1 - p, self.classes[1]: p}
        e = np.exp(z - z.max())
        return dict(zip(self.classes, (e / e.sum()).tolist(), strict=True))

    def contribution(self, x: np.ndarray, cls: str) -> float:
        """How far `x` pushes toward `cls` (its logit, or the positive logit for a binary head)."""
        z = self.logits(np.asarray(x, dtype=np.float32))
        if len(self.classes) == 2:
            return float(z[0] if cls == self.classes[1] else -z[0])
        return float(z[self.classes.index(cls)])


class Projection(BaseModel):
    """A linear map of embeddings to a few components (PCA), fitted on training replies: the rubric heads
    read the reply through it, since a few hundred labelled turns cannot pin down 384 weights each."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    mean: list[float]
    components: list[list[float]] = Field(min_length=1)
    trained_on: str

    @model_validator(mode="after")
    def _shapes(self) -> Projection:
        if any(len(row) != len(self.mean) for row in self.components):
            raise ValueError(f"every component must have {len(self.mean)} values (one per embedding dimension)")
        return self

    def model_post_init(self, _context) -> None:
        object.__setattr__(self, "_mean", np.asarray(self.mean, dtype=np.float32))
        object.__setattr__(self, "_components", np.asarray(self.components, dtype=np.float32))

    def apply(self, vector: np.ndarray) -> np.ndarray:
        return (np.asarray(vector, dtype=np.float32) - self._mean) @ self._components.T


class ScoreHead(BaseModel):
    """One rubric dimension's scorer: the mean of its member heads' class probabilities (members read the
    turn differently, and their mistakes differ), turned into a score by cutpoints on the expected score
    that were fitted for agreement (QWK) on cross-validated predictions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    members: list[LinearHead] = Field(min_length=1)
    cutpoints: list[float] = Field(min_length=3, max_length=3, description="expected-score boundaries of 1, 2, 3")
    trained_on: str

    @model_validator(mode="after")
    def _agree(self) -> ScoreHead:
        if any(m.classes != self.members[0].classes for m in self.members):
            raise ValueError("every member must have the same classes")
        if self.cutpoints != sorted(self.cutpoints):
            raise ValueError("cutpoints must increase")
        return self

    @property
    def classes(self) -> list[str]:
        return self.members[0].classes

    def proba(self, inputs: list[np.ndarray]) -> dict[str, float]:
        """Class probabilities, given one input vector per member (each laid out as that member's features)."""
        each = [m.proba(x) for m, x in zip(self.members, inputs, strict=True)]
        return {c: sum(p[c] for p in each) / len(each) for c in self.classes}

    def decode(self, proba: dict[str, float]) -> int | None:
        return decode(proba, self.cutpoints)

    def contribution(self, inputs: list[np.ndarray], cls: str) -> float:
        """How far these inputs push toward `cls`: the members' logits for it, summed."""
        return sum(m.contribution(x, cls) for m, x in zip(self.members, inputs, strict=True))


class HeadFileError(DataFileError):
    pass


def load_head(name: str, folder: Path = HEADS_DIR, kind: type[BaseModel] = LinearHead):
    """A head (or, with `kind=Projection` or `ScoreHead`, one of those) from `folder/name.json`, validated."""
    path = folder / f"{name}.json"
    try:
        return kind.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError as exc:
        raise HeadFileError(str(path), "(file)", "missing", "run `python -m evaluators.train_heads`") from exc
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "(file)"
        raise HeadFileError(str(path), field, error["msg"][:200],
                            "re-create it with `python -m evaluators.train_heads`") from exc
    except (json.JSONDecodeError, ValueError) as exc:
        raise HeadFileError(str(path), "(file)", str(exc).splitlines()[0][:200],
                            "re-create it with `python -m evaluators.train_heads`") from exc


def _compact(value):
    """Six significant digits for every number: small files, the same predictions."""
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, list):
        return [_compact(v) for v in value]
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items()}
    return value


def save_head(head: LinearHead | Projection | ScoreHead, folder: Path = HEADS_DIR) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{head.name}.json"
    path.write_text(json.dumps(_compact(head.model_dump()), separators=(",", ":")) + "\n", encoding="utf-8")
    return path
