"""Errors an author can act on: each names the file, the field, the problem and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)

_FIXES = {
    "missing": "add this field",
    "extra_forbidden": "remove it, or check its spelling against the documented fields",
    "greater_than_equal": "use a larger value",
    "less_than_equal": "use a smaller value",
    "string_too_short": "write some text here",
    "string_too_long": "shorten it",
    "too_short": "add more entries",
    "string_pattern_mismatch": "use lower-case letters, digits, '_' or '-' only",
    "enum": "use one of the allowed values",
    "int_parsing": "write a whole number",
    "float_parsing": "write a number",
    "list_type": "write a YAML list (lines starting with '- ')",
    "dict_type": "write a YAML mapping (key: value lines)",
    "model_type": "write a YAML mapping (key: value lines)",
    "string_type": "write text (quote it if it starts with a special character)",
}


class Strict(BaseModel):
    """Base for data-file models: unknown fields are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DataFileError(Exception):
    """A data file (persona or rubric) that cannot be used, described for its author."""

    def __init__(self, file: str, field: str, problem: str, fix: str):
        self.file, self.field, self.problem, self.fix = file, field, problem, fix
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.problem} (fix: {self.fix})"


def validation_errors(path: Path, error: ValidationError) -> list[DataFileError]:
    """One `DataFileError` per pydantic problem, with the field written as a dotted path."""
    found = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "(top level)"
        fix = _FIXES.get(item["type"], "see the field's description in the README")
        found.append(DataFileError(str(path), field, item["msg"], fix))
    return found


class DataFileErrors(DataFileError):
    """Several problems in one file; `str()` gives one line per problem."""

    def __init__(self, errors: list[DataFileError]):
        self.errors = errors
        first = errors[0]
        super().__init__(first.file, first.field, first.problem, first.fix)

    def __str__(self) -> str:
        return "\n".join(DataFileError.__str__(e) for e in self.errors)


def load_yaml_model(path: Path, model: type[ModelT]) -> ModelT:
    """Read a YAML file with `safe_load` and validate it, turning every failure into `DataFileError`."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataFileError(str(path), "-", f"cannot read the file ({exc.strerror})", "check the path") from None
    except UnicodeDecodeError:
        raise DataFileError(str(path), "-", "the file is not UTF-8 text", "save it as UTF-8") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "-"
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise DataFileError(str(path), where, f"YAML syntax error: {problem}",
                            "check indentation and quote text containing ':' or '#'") from None
    if not isinstance(raw, dict):
        raise DataFileError(str(path), "(top level)", "the file must hold a YAML mapping",
                            "start with 'id: ...' and the other documented fields")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise DataFileErrors(validation_errors(path, exc)) from None
