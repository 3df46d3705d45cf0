"""Play a whole session between a trainee (bot or file) and a customer: used by the CLI and tests."""

from __future__ import annotations

from simulator.bots import Trainee
from simulator.mood import MAX_TURNS
from simulator.persona import Persona
from simulator.session import ReplyRejected, TurnEngine, end_session, run_turn
from simulator.state import Session, start_session


def play_session(persona: Persona, trainee: Trainee, engine: TurnEngine, *, engine_name: str = "offline",
                 start_anger: float | None = None) -> Session:
    """Run until the customer resolves, escalates or leaves, or the trainee runs out of replies."""
    session = start_session(persona, engine=engine_name, start_anger=start_anger)
    while not session.ended and len(session.turns) < MAX_TURNS:
        reply = trainee.next_reply(session)
        if reply is None:
            break
        try:
            *_, session = run_turn(session, reply, engine)
        except ReplyRejected:
            break  # a reply the engine refuses (too long) ends a scripted run; the turns so far are kept
    return end_session(session)
