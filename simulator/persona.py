"""Persona files: the YAML an L&D author writes, validated into a typed model.

Every field is checked by pydantic with ``extra="forbid"`` so a typo in a file is an
error naming the file, the field and the fix, never a silently ignored key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import Field, StringConstraints, field_validator, model_validator

from simulator.errors import DataFileError, Strict, load_yaml_model

DEFAULT_PERSONA_DIR = Path(__file__).resolve().parent.parent / "personas"


def persona_dir() -> Path:
    """The persona folder: $DEFUSE_PERSONA_DIR, else the shipped `personas/`."""
    return Path(os.environ.get("DEFUSE_PERSONA_DIR", DEFAULT_PERSONA_DIR))

Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=600)]
Phrase = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=2, max_length=80)]


class MoodBand(str, Enum):
    """Anger bands the offline customer speaks from; bounds live in `simulator.mood`."""

    calm = "calm"
    tense = "tense"
    angry = "angry"
    furious = "furious"


class Move(str, Enum):
    """What the trainee did in a turn, as the customer perceives it."""

    told_to_calm_down = "told_to_calm_down"
    blamed = "blamed"
    insulted = "insulted"
    policy = "policy"
    hollow_apology = "hollow_apology"
    over_promise = "over_promise"
    jargon = "jargon"
    dismissed = "dismissed"
    acknowledged = "acknowledged"
    asked = "asked"
    offered_plan = "offered_plan"
    committed = "committed"
    neutral = "neutral"


class Outcome(str, Enum):
    resolved = "resolved"
    escalated = "escalated"
    left = "left"
    abandoned = "abandoned"


class AngerTraits(Strict):
    """How this customer's anger moves. See `simulator.mood` for the formula."""

    start: int = Field(ge=0, le=10, description="anger at the first message, 0 calm .. 10 irate")
    volatility: float = Field(ge=0, le=1, description="how sharply poor handling raises anger")
    warmth: float = Field(ge=0, le=1, description="how quickly good handling lowers anger")
    patience: int = Field(ge=1, le=6, description="poor turns in a row tolerated before walking out")
    resolve_at: int = Field(default=3, ge=0, le=6, description="anger at or below which a plan is accepted")


class HiddenFact(Strict):
    """Something the customer only says when the trainee asks a good question about it."""

    id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]+$")]
    fact: Line = Field(description="what is true (shown in the report, never to the trainee up front)")
    ask_about: list[Phrase] = Field(min_length=1, description="words a question must touch to earn the fact")
    line: Line = Field(description="how the customer says it when asked well")


class Cue(Strict):
    """Phrases that move this particular customer's anger beyond the general rubric."""

    phrases: list[Phrase] = Field(min_length=1)
    effect: int = Field(ge=1, le=3, description="anger points added (trigger) or removed (soother)")
    why: Line


class TraineeBrief(Strict):
    """What the trainee is told before the conversation (seed 000: know what is negotiable)."""

    role: Line
    goal: Line
    may_offer: list[Line] = Field(min_length=1)
    negotiable: list[Line] = Field(min_length=1)
    not_negotiable: list[Line] = Field(min_length=1)


class AuthoredLines(Strict):
    """The offline customer's voice: lines per mood band, per trainee move, and endings."""

    by_mood: dict[MoodBand, list[Line]]
    by_move: dict[Move, list[Line]]
    endings: dict[Outcome, list[Line]]

    @field_validator("by_mood")
    @classmethod
    def _every_band(cls, value: dict[MoodBand, list[Line]]) -> dict[MoodBand, list[Line]]:
        return _require_keys(value, list(MoodBand), min_lines=2)

    @field_validator("by_move")
    @classmethod
    def _every_move(cls, value: dict[Move, list[Line]]) -> dict[Move, list[Line]]:
        return _require_keys(value, list(Move), min_lines=2)

    @field_validator("endings")
    @classmethod
    def _every_ending(cls, value: dict[Outcome, list[Line]]) -> dict[Outcome, list[Line]]:
        return _require_keys(value, [Outcome.resolved, Outcome.escalated, Outcome.left], min_lines=1)


def _require_keys(value: dict, keys: list[Enum], min_lines: int) -> dict:
    missing = [key.value for key in keys if len(value.get(key, [])) < min_lines]
    if missing:
        raise ValueError(f"needs at least {min_lines} line(s) for: {', '.join(missing)}")
    return value


class Persona(Strict):
    """One simulated customer, as authored in `personas/<id>.yaml`."""

    id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=60)]
    name: Line
    title: Line
    industry: Line
    typology: Line = Field(description="the kind of difficult customer (seed 000 'typologies of clients')")
    situation: Line
    wants: list[Line] = Field(min_length=1, description="what would actually satisfy them")
    anger: AngerTraits
    hidden_facts: list[HiddenFact] = Field(default_factory=list)
    triggers: list[Cue] = Field(default_factory=list)
    soothers: list[Cue] = Field(default_factory=list)
    trainee_brief: TraineeBrief
    opening_line: Line
    lines: AuthoredLines

    @model_validator(mode="after")
    def _unique_fact_ids(self) -> "Persona":
        ids = [fact.id for fact in self.hidden_facts]
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        if duplicated:
            raise ValueError(f"hidden_facts ids must be unique; repeated: {', '.join(duplicated)}")
        return self


@dataclass(frozen=True)
class PersonaLoad:
    """Result of loading a folder: valid personas plus every problem found in the bad files."""

    personas: dict[str, Persona]
    errors: list[DataFileError]


def load_persona(path: Path) -> Persona:
    """Load one persona file; raises `DataFileError` naming file, field and fix."""
    persona = load_yaml_model(path, Persona)
    if persona.id != path.stem:
        raise DataFileError(file=str(path), field="id", problem=f"id '{persona.id}' differs from the file name",
                            fix=f"set id: {path.stem} (or rename the file to {persona.id}.yaml)")
    return persona


def load_personas(directory: Path = DEFAULT_PERSONA_DIR) -> PersonaLoad:
    """Load every `*.yaml` in a folder; a bad file is reported and skipped, the rest load."""
    personas: dict[str, Persona] = {}
    errors: list[DataFileError] = []
    paths = sorted(Path(directory).glob("*.yaml")) + sorted(Path(directory).glob("*.yml"))
    if not paths:
        errors.append(DataFileError(file=str(directory), field="-", problem="no persona files (*.yaml) found",
                                    fix="point to the folder holding the persona YAML files"))
    for path in paths:
        try:
            persona = load_persona(path)
        except DataFileError as error:
            errors.extend(getattr(error, "errors", [error]))
            continue
        if persona.id in personas:
            errors.append(DataFileError(file=str(path), field="id", problem=f"id '{persona.id}' is used twice",
                                        fix="give each persona a unique id"))
            continue
        personas[persona.id] = persona
    return PersonaLoad(personas=personas, errors=errors)


def dump_persona(persona: Persona) -> str:
    """Serialise back to YAML (used by the round-trip test and by authoring tools)."""
    return yaml.safe_dump(persona.model_dump(mode="json"), sort_keys=False, allow_unicode=True, width=100)
