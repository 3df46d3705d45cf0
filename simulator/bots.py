"""Reference trainees: scripted players used by `defuse play` and by the calibration tests.

`good` follows the rubric (acknowledge, ask, plan, own the follow-up); `poor` argues,
blames and says "calm down"; a reply file plays its lines in order.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from pathlib import Path

from evaluators.text import normalise, sentences
from simulator.state import Session

_SWAP = {"i": "you", "i'm": "you're", "i've": "you've", "i'd": "you'd", "i'll": "you'll", "my": "your",
         "me": "you", "mine": "yours", "myself": "yourself", "am": "are", "we": "you", "our": "your", "us": "you",
         "your": "our", "you": "we", "you're": "we're", "yours": "ours", "was": "was"}


def paraphrase(text: str) -> str:
    """Restate the customer's statements in the trainee's voice (I -> you, your -> our)."""
    statements = [s for s in sentences(text) if not s.endswith("?")] or sentences(text)[:1]
    statement = max(statements, key=len, default="")
    words = re.findall(r"[\w'-]+|[^\w\s]", statement)
    swapped = [_SWAP.get(w.lower(), w if w.isupper() and len(w) > 1 else w.lower() if i == 0 else w)
               for i, w in enumerate(words)]
    out = " ".join(swapped)
    out = re.sub(r"\s+([,.!;:])", r"\1", out).rstrip(".!")
    return re.sub(r"\b([A-Z]{2,})\b", lambda m: m.group(1).lower(), out)


class Trainee(ABC):
    """Produces the next trainee reply, or None when it has nothing more to say."""

    name: str

    @abstractmethod
    def next_reply(self, session: Session) -> str | None:
        ...


class GoodTrainee(Trainee):
    """Follows the rubric: empathy and questions first, then a plan, then ownership."""

    name = "good"

    def next_reply(self, session: Session) -> str | None:
        persona, turn = session.persona, len(session.turns)
        first = persona.name.split()[0]
        heard = paraphrase(session.messages[-1].text)
        offers = persona.trainee_brief.may_offer
        if turn == 0:
            return (f"{first}, I'm really sorry this happened. So {heard} - that sounds really frustrating, and "
                    f"you're right to expect better. Thank you for telling me. I'm here to help and we can sort "
                    f"this out together. Could you tell me what happened exactly, and when it started?")
        if turn == 1:
            return ("Thank you, that really helps me understand. I can see why this is so frustrating, and I "
                    "don't blame you at all. Have you already contacted us about this before, and which outcome "
                    "matters most to you right now?")
        if turn == 2:
            second = offers[1] if len(offers) > 1 else offers[0]
            return (f"You're right, and here's what I can do for you today. Option one: {offers[0]}. "
                    f"Option two: {second}. To be honest, some things are outside my control, so I will only "
                    f"promise what I can deliver. Which option would you prefer?")
        return (f"Thank you, {first}. To confirm what we agreed: {offers[0]}. I'll personally call you by 4 pm "
                f"tomorrow with an update, and I'll email you a summary with your reference number today. "
                f"I'm sorry again that this happened - does that work for you?")


class AverageTrainee(Trainee):
    """A typical untrained agent: polite but generic, vague before concrete, little ownership."""

    name = "average"

    def next_reply(self, session: Session) -> str | None:
        offers = session.persona.trainee_brief.may_offer
        lines = [
            "I'm sorry about what happened. I can see this is frustrating. Can you give me your account details so "
            "I can look into it?",
            "Thanks. Let me check what I can do. We'll look into it and get back to you.",
            f"OK, what we can do is: {offers[0]}. Is that OK?",
            "Someone from the team will contact you about it. Is there anything else I can help with?",
            f"I understand. As I said, we can {offers[-1]}. We are doing our best.",
        ]
        return lines[len(session.turns) % len(lines)]


class PoorTrainee(Trainee):
    """Does what the rubric warns against: calm down, blame, policy, hollow apology, argue."""

    name = "poor"
    LINES = [
        "Calm down, there's no need to shout at me.",
        "Well, that's our policy. You should have read the terms before you complained.",
        "I'm sorry you feel that way, but there's nothing I can do about it.",
        "As I already told you, it's not our fault. You'll have to call another department.",
        "Whatever. If you say so.",
        "Relax. You're overreacting about a minor thing.",
    ]

    def next_reply(self, session: Session) -> str | None:
        return self.LINES[len(session.turns) % len(self.LINES)]


class ScriptedTrainee(Trainee):
    """Plays the lines of a reply file in order (blank lines skipped)."""

    def __init__(self, lines: list[str], name: str = "file"):
        self.lines = [normalise(line).strip() for line in lines if line.strip()]
        self.name = name

    @classmethod
    def from_file(cls, path: Path) -> "ScriptedTrainee":
        return cls(Path(path).read_text(encoding="utf-8").splitlines(), name=Path(path).name)

    def next_reply(self, session: Session) -> str | None:
        turn = len(session.turns)
        return self.lines[turn] if turn < len(self.lines) else None


REFERENCE_TRAINEES = {"good": GoodTrainee, "average": AverageTrainee, "poor": PoorTrainee}


def reference_trainee(name: str) -> Trainee:
    """`good`, `average`, `poor`, or a path to a reply file."""
    if name in REFERENCE_TRAINEES:
        return REFERENCE_TRAINEES[name]()
    path = Path(name)
    if not path.is_file():
        raise FileNotFoundError(f"trainee must be 'good', 'average', 'poor', 'llm:LEVEL' or a reply file; "
                                f"no file at {name}")
    return ScriptedTrainee.from_file(path)
