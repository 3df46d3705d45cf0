"""Many sessions at once: personas x trainees, concurrent, appended as JSONL; and the calibration check.

Calibration proves the simulator discriminates: on every persona the reference trainees must
order good > average > poor, on mean rubric score and on outcome.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

from pydantic import BaseModel

from evaluators.batch import finished_ids
from simulator.bots import Trainee
from simulator.persona import Outcome, Persona
from simulator.play import play_session
from simulator.session import TurnEngine
from simulator.state import Session

OUTCOME_RANK = {Outcome.resolved: 2, Outcome.abandoned: 1, Outcome.left: 0, Outcome.escalated: 0}


class PlayJob(BaseModel):
    id: str
    persona: str
    trainee: str


def plan_jobs(personas: list[str], trainees: list[str], n: int) -> Iterator[PlayJob]:
    """`n` sessions spread evenly over persona x trainee pairs, with stable ids for resuming."""
    pairs = list(itertools.product(personas, trainees))
    for k in range(n):
        persona, trainee = pairs[k % len(pairs)]
        yield PlayJob(id=f"{persona}:{trainee}:{k // len(pairs) + 1}", persona=persona, trainee=trainee)


def turn_record(session: Session) -> list[dict]:
    return [{"trainee": t.trainee, "customer": t.customer, "anger_before": t.anger_before, "anger_after": t.anger_after,
             "scores": {d.value: s for d, s in t.grade.scores.items()}, "red_flags": [f.value for f in t.grade.red_flags],
             "evidence": t.grade.evidence, "judge": t.grade.judge, "move": t.move.value, "revealed": t.revealed,
             "notes": t.notes, "customer_guards": t.customer_guards,
             "usage": [u.model_dump() for u in t.usage]} for t in session.turns]


def session_record(session: Session, job_id: str, trainee: str) -> dict:
    return {"id": job_id, "persona": session.persona.id, "trainee": trainee, "engine": session.engine,
            "outcome": session.outcome.value if session.outcome else None, "start_anger": session.start_anger,
            "final_anger": session.anger, "turns": turn_record(session)}


def mean_score(session: Session) -> float | None:
    scores = [s for t in session.turns for s in t.grade.scores.values() if s is not None]
    return round(sum(scores) / len(scores), 3) if scores else None


def run_jobs(jobs: Iterator[PlayJob], personas: dict[str, Persona], make_trainee: Callable[[str], Trainee],
             engine: TurnEngine, engine_name: str, out: Path, concurrency: int,
             on_done: Callable[[dict], None]) -> None:
    """Play jobs with `concurrency` threads, appending each finished session to `out` (skips ids it has)."""
    skip = finished_ids(out)  # a line cut short by a crash is played again

    def play(job: PlayJob) -> dict:
        session = play_session(personas[job.persona], make_trainee(job.trainee), engine, engine_name=engine_name)
        return session_record(session, job.id, job.trainee)

    with ThreadPoolExecutor(max_workers=concurrency) as pool, out.open("a", encoding="utf-8") as sink:
        pending: set[Future] = set()

        def drain(block_until: int) -> None:
            nonlocal pending
            while len(pending) > block_until:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    record = future.result()
                    sink.write(json.dumps(record, ensure_ascii=False) + "\n")
                    sink.flush()
                    on_done(record)

        for job in jobs:
            if job.id in skip:
                continue
            drain(concurrency * 2 - 1)
            pending.add(pool.submit(play, job))
        drain(0)


def outcome_rank(session: Session) -> tuple[int, int]:
    """Resolved beats abandoned beats lost; among resolved, faster is better; among lost, later is better."""
    turns = len(session.turns)
    return OUTCOME_RANK[session.outcome], -turns if session.outcome is Outcome.resolved else turns


class CalibrationRow(BaseModel):
    persona: str
    trainee: str
    outcome: str
    turns: int
    mean_score: float | None
    final_anger: float


class Calibration(BaseModel):
    rows: list[CalibrationRow]
    failures: list[str]

    @property
    def passed(self) -> bool:
        return not self.failures

    def table(self) -> str:
        lines = [f"{'persona':<30} {'trainee':<8} {'outcome':<10} {'turns':>5} {'mean score':>10} {'anger':>6}"]
        for r in self.rows:
            mean = "-" if r.mean_score is None else f"{r.mean_score:.2f}"
            lines.append(f"{r.persona:<30} {r.trainee:<8} {r.outcome:<10} {r.turns:>5} {mean:>10} {r.final_anger:>6.1f}")
        lines.append("")
        lines += [f"FAIL {f}" for f in self.failures] or ["PASS: on every persona good > average > poor"]
        return "\n".join(lines)


def calibrate(personas: dict[str, Persona], trainees: dict[str, Callable[[], Trainee]], engine: TurnEngine,
              engine_name: str = "offline") -> Calibration:
    """Play good, average and poor on every persona; each must beat the next on score and on outcome
    (outcome rank, then how long the customer stayed)."""
    rows, failures = [], []
    order = ["good", "average", "poor"]
    for persona in personas.values():
        played = {name: play_session(persona, trainees[name](), engine, engine_name=engine_name) for name in order}
        for name in order:
            s = played[name]
            rows.append(CalibrationRow(persona=persona.id, trainee=name, outcome=s.outcome.value, turns=len(s.turns),
                                       mean_score=mean_score(s), final_anger=s.anger))
        for better, worse in zip(order, order[1:]):
            b, w = played[better], played[worse]
            if (mean_score(b) or 0) <= (mean_score(w) or 0):
                failures.append(f"{persona.id}: {better} does not score above {worse}")
            b_rank, w_rank = outcome_rank(b), outcome_rank(w)
            if b_rank <= w_rank:
                failures.append(f"{persona.id}: {better}'s outcome ({b.outcome.value}, {len(b.turns)} turns) is not "
                                f"better than {worse}'s ({w.outcome.value}, {len(w.turns)} turns)")
    return Calibration(rows=rows, failures=failures)
