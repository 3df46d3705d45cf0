"""An LLM playing the trainee at a chosen skill level, for batch runs of `defuse play`."""

from __future__ import annotations

from pathlib import Path

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from simulator.bots import Trainee
from simulator.llm import fold_system, prompt_file
from simulator.state import Session

PROMPT = Path(__file__).resolve().parent / "prompts" / "trainee.md"
LEVELS = {
    "novice": "You are new and a little defensive: you quote policy, apologise generically, sometimes argue "
              "about the facts, and rarely commit to a concrete next step.",
    "competent": "You are polite and helpful but somewhat scripted: you acknowledge the problem, ask a "
                 "question or two, and offer a reasonable next step, without much personal ownership.",
    "expert": "You are excellent: you acknowledge the customer's specific situation and feeling in their own "
              "words, ask targeted questions, offer a concrete and honest plan with timing, ask for agreement, "
              "and personally own the follow-up (when, how, reference).",
}
MAX_TURNS = 10


class LLMTrainee(Trainee):
    def __init__(self, model: BaseChatModel, level: str, merge_system: bool = False):
        if level not in LEVELS:
            raise ValueError(f"unknown skill level '{level}'; choose one of: {', '.join(LEVELS)}")
        self.model, self.level, self.merge_system = model, level, merge_system
        self.name = f"llm:{level}"

    def messages(self, session: Session) -> list[BaseMessage]:
        brief = session.persona.trainee_brief
        system = prompt_file(PROMPT).format(
            role=brief.role, goal=brief.goal, may_offer="; ".join(brief.may_offer),
            not_negotiable="; ".join(brief.not_negotiable), level=self.level, level_description=LEVELS[self.level])
        # The agent is the AI here: the customer's messages are the human side.
        dialogue = [HumanMessage(m.text) if m.role == "customer" else AIMessage(m.text) for m in session.messages]
        messages = [SystemMessage(system), *dialogue]
        return fold_system(messages) if self.merge_system else messages

    def next_reply(self, session: Session) -> str | None:
        if len(session.turns) >= MAX_TURNS:
            return None
        reply = self.model.invoke(self.messages(session))
        text = reply.content if isinstance(reply.content, str) else ""
        return text.strip() or None
