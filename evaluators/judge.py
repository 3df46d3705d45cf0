"""The judge role: one small interface shared by the offline and the LLM judges."""

from __future__ import annotations

from abc import ABC, abstractmethod

from evaluators.grade import GradingContext, TurnGrade


class Judge(ABC):
    """Grades one trainee reply in the context of the conversation so far."""

    name: str

    @abstractmethod
    def grade(self, context: GradingContext, reply: str) -> TurnGrade:
        """Return a `TurnGrade`; never raise for odd text, never invent a score."""

    async def agrade(self, context: GradingContext, reply: str) -> TurnGrade:
        """Async form for batches; judges that do I/O override it, CPU-only judges need not."""
        return self.grade(context, reply)
