"""How long a trainee waits for one LLM-mode turn, as a ratio to the raw LLM latency.

Against the fake OpenAI-compatible server (fixed latency), in one run it measures:
  raw      one judge call and one streamed customer call, back to back (what a naive turn costs)
  serial   Defuse's turn with the judge first, then the customer (the obvious design)
  defuse   Defuse's turn as shipped: offline pre-score, customer streams while the judge grades
and prints wall time and time to the customer's first token, each as a ratio to `raw`.

    python -m bench.turn_latency [--latency 0.4] [--turns 8]
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.fake_openai import FakeSettings, RunningServer
from simulator.engines import build_engine
from simulator.llm import LLMConfig, chat_model
from simulator.persona import load_personas
from simulator.session import run_turn
from simulator.state import Session, start_session

REPLY = "I'm so sorry your parcel hasn't arrived - that's frustrating. When did you last check the tracking?"


def time_turn(session: Session, engine_turn) -> tuple[float, float]:
    started = time.perf_counter()
    first = None
    for item in run_turn(session, REPLY, engine_turn):
        if first is None and isinstance(item, str) and item:
            first = time.perf_counter() - started
    total = time.perf_counter() - started
    return total, first if first is not None else total


def raw_latency(config: LLMConfig) -> float:
    judge = chat_model(config, "judge").bind(response_format={"type": "json_object"})
    customer = chat_model(config, "customer")
    started = time.perf_counter()
    judge.invoke(f"<trainee_reply>\n{REPLY}\n</trainee_reply>")
    for _ in customer.stream("Hello"):
        pass
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.4, help="fake server seconds to first byte")
    parser.add_argument("--turns", type=int, default=8)
    args = parser.parse_args()
    persona = load_personas().personas["late-birthday-gift"]
    with RunningServer(FakeSettings(latency=args.latency, token_delay=0.01)) as server:
        config = LLMConfig(base_url=server.url, customer_model="fake", judge_model="fake", max_retries=0)
        engine = build_engine("llm", config)
        serial = engine.turn.__class__(judge=engine.judge, customer=engine.customer, pre_scorer=engine.judge,
                                       fallback_customer=engine.turn.fallback_customer)
        session = start_session(persona, engine="llm")
        time_turn(session, engine.turn)  # warm up connections
        rows = {"raw": [], "serial": [], "defuse": []}
        firsts = {"serial": [], "defuse": []}
        for _ in range(args.turns):
            rows["raw"].append(raw_latency(config))
            for name, turn_engine in (("serial", serial), ("defuse", engine.turn)):
                total, first = time_turn(session, turn_engine)
                rows[name].append(total)
                firsts[name].append(first)
    raw = statistics.median(rows["raw"])
    print(f"fake server latency {args.latency:.2f} s, {args.turns} turns each, medians\n")
    print(f"{'pipeline':<8} {'turn (s)':>9} {'turn/raw':>9} {'first token (s)':>16} {'first/raw':>10}")
    print(f"{'raw':<8} {raw:>9.3f} {1:>9.2f} {'':>16} {'':>10}")
    for name in ("serial", "defuse"):
        total, first = statistics.median(rows[name]), statistics.median(firsts[name])
        print(f"{name:<8} {total:>9.3f} {total / raw:>9.2f} {first:>16.3f} {first / raw:>10.2f}")


if __name__ == "__main__":
    main()
