"""How long the offline judges take per turn (target for the embedding judge: under 30 ms on 2 cores).

    python -m bench.judge_speed [--rounds 3]

Grades every dev gold turn (real replies, 1-5 messages of history) with the cue judge and the embedding
judge, after one warm-up pass (the first call loads the model: its time is printed separately), and
prints median, p95 and max milliseconds per turn, and the embedding judge's median as a multiple of the
cue judge's. The encoder's cache of recent texts is cleared before every pass. The embedding judge is
timed twice: as a batch grades (both messages embedded in the turn) and as a live turn on the page
(the customer's line embedded by `prepare` before the trainee sends, outside the timed part).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from evaluators.batch import GradeRequest
from evaluators.embedding_judge import EmbeddingJudge
from evaluators.offline import OfflineJudge

ROOT = Path(__file__).resolve().parent.parent


def timings(judge, requests: list[GradeRequest], rounds: int, prepared: bool = False) -> list[float]:
    spent = []
    for _ in range(rounds):
        if isinstance(judge, EmbeddingJudge):
            judge.encoder._embed.cache_clear()
        for request in requests:
            context = request.context()
            if prepared:
                judge.prepare(context)
            started = time.perf_counter()
            judge.grade(context, request.reply)
            spent.append((time.perf_counter() - started) * 1000)
    return spent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--items", type=Path, default=ROOT / "evaluators" / "gold" / "dev_items.jsonl")
    args = parser.parse_args()
    requests = [GradeRequest.model_validate_json(line) for line in args.items.read_text().splitlines() if line.strip()]
    started = time.perf_counter()
    embedding = EmbeddingJudge()
    embedding.grade(requests[0].context(), requests[0].reply)
    load = time.perf_counter() - started
    cue = OfflineJudge()
    results = {}
    for judge in (cue, embedding):
        timings(judge, requests, 1)  # warm-up
        results[judge.name] = timings(judge, requests, args.rounds)
    results[f"{embedding.name}, live"] = timings(embedding, requests, args.rounds, prepared=True)
    print(f"{len(requests)} dev gold turns x {args.rounds} rounds; embedding judge first load {load:.2f} s\n")
    print(f"{'judge':<34} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}")
    for name, spent in results.items():
        p95 = sorted(spent)[int(0.95 * len(spent)) - 1]
        print(f"{name:<34} {statistics.median(spent):>10.1f} {p95:>8.1f} {max(spent):>8.1f}")
    ratio = statistics.median(results[embedding.name]) / statistics.median(results[cue.name])
    print(f"\nembedding / cue median: {ratio:.1f}x; target: embedding judge under 30 ms per turn\n"
          "live: the page has the judge embed the customer's line while the trainee types (`prepare`), so the\n"
          "trainee waits only for the reply's part; a batch pays for both messages.")


if __name__ == "__main__":
    main()
