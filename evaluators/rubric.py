"""Rubric files (`evaluators/rubrics/*.yaml`): the grading contract of ../shared/RUBRIC.md as data.

L&D edits the level descriptions, tips and cue phrases here; the judges read them.
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from simulator.errors import Strict, load_yaml_model

RUBRIC_DIR = Path(__file__).resolve().parent / "rubrics"
DEFAULT_RUBRIC = RUBRIC_DIR / "defuse-core.yaml"

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class Dimension(str, Enum):
    """The five coaching dimensions, in the order the rubric presents them."""

    perspective = "perspective"
    facilitator = "facilitator"
    empathy = "empathy"
    plan = "plan"
    follow_through = "follow_through"


class RedFlag(str, Enum):
    blame = "blame"
    argue = "argue"
    calm_down = "calm_down"
    sarcasm_or_insult = "sarcasm_or_insult"
    hollow_apology = "hollow_apology"
    over_promise = "over_promise"
    policy_hiding = "policy_hiding"
    patronising = "patronising"
    jargon = "jargon"


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"'{pattern}' is not a valid pattern ({exc}); escape special characters with \\") from None
    return pattern


Pattern = Annotated[str, StringConstraints(min_length=1), AfterValidator(_compiles)]


class DimensionSpec(Strict):
    name: Text
    sources: list[Text] = Field(default_factory=list)
    levels: dict[int, Text]
    tips: dict[int, Text] = Field(description="advice for a turn scored at this level (0, 1, 2)")

    @model_validator(mode="after")
    def _levels_complete(self) -> "DimensionSpec":
        if sorted(self.levels) != [0, 1, 2, 3]:
            raise ValueError("levels must describe exactly 0, 1, 2 and 3")
        if sorted(self.tips) != [0, 1, 2]:
            raise ValueError("tips must give advice for levels 0, 1 and 2")
        return self


class RedFlagSpec(Strict):
    description: Text
    tip: Text
    cues: list[Pattern] = Field(min_length=1)


class Rubric(Strict):
    id: Text
    title: Text
    scale: dict[int, Text]
    dimensions: dict[Dimension, DimensionSpec]
    red_flags: dict[RedFlag, RedFlagSpec]
    cues: dict[str, list[Pattern]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _complete(self) -> "Rubric":
        missing = [d.value for d in Dimension if d not in self.dimensions]
        missing += [f.value for f in RedFlag if f not in self.red_flags]
        if missing:
            raise ValueError(f"missing entries for: {', '.join(missing)}")
        return self


def load_rubric(path: Path = DEFAULT_RUBRIC) -> Rubric:
    """Load and validate a rubric file; problems raise `DataFileError` naming file, field, fix."""
    return load_yaml_model(path, Rubric)
