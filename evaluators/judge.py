"""The judge role: one small interface shared by the offline and the LLM judges."""

from __future__ import annotations

from abc import ABC, abstractmethod

from evaluators.grade import GradingContext, TurnGrade

FALLBACK_PREFIX = "graded offline:"


class Judge(ABC):
    """Grades one trainee reply in the context of the conversation so far."""

    name: str

    @abstractmethod
    def grade(self, context: GradingContext, reply: str) -> TurnGrade:
        """Return a `TurnGrade`; never raise for odd text, never invent a score."""

    def prepare(self, context: GradingContext) -> None:
        """Optional: precompute what grading the next reply in `context` will need (called while the
        trainee is still typing). Must be safe to skip and to call from another thread."""

    async def agrade(self, context: GradingContext, reply: str) -> TurnGrade:
        """Async form for batches; judges that do I/O override it, CPU-only judges need not."""
        return self.grade(context, reply)


def short_error(exc: BaseException, limit: int = 160) -> str:
    """One readable line for a notice: the exception's first line, trimmed."""
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    return first if len(first) <= limit else first[: limit - 1] + "…"


def fallback_grade(failed: Judge, fallback: Judge, exc: BaseException, context: GradingContext,
                   reply: str) -> TurnGrade:
    """Grade with `fallback` after `failed` raised, saying so on the grade and keeping the calls it spent."""
    grade = fallback.grade(context, reply)
    return grade.model_copy(update={"note": f"{FALLBACK_PREFIX} the {failed.name} judge failed: {short_error(exc)}",
                                    "usage": getattr(exc, "usage", [])})
