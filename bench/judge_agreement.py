"""How well a judge agrees with human labels: the dev gold set, and the EPITOME empathy labels.

    python -m bench.judge_agreement [--judge embedding|cue|llm] [--heads DIR] [--split dev|test]
                                    [--gold evaluators/gold] [--epitome ../shared/data/epitome | --no-epitome]

Dev gold set (`evaluators/gold/dev_items.jsonl`, labels `dev_labels_a.jsonl` and, when present,
`dev_labels_b.jsonl` from a second, independent annotator; `--split test`: the held-out test set, laid out
the same way as `test_*.jsonl`): per dimension quadratic-weighted kappa,
exact and within-1 accuracy, applicability agreement, red-flag F1, and a bootstrap 95% interval for
the mean kappa; the annotators' agreement with each other is the ceiling to approach.

EPITOME (Sharma et al., 2020, EMNLP: "A Computational Approach to Understanding Empathy Expressed in
Text-Based Mental Health Support"): macro-F1, binary (level > 0) and 3-class, of the offline judges'
signals for emotional reactions, interpretations and explorations, on the fifth of the pairs that the
embedding judge's heads were not trained on.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from evaluators.agreement import Agreement, agreement, macro_f1
from evaluators.batch import GradeRequest
from evaluators.grade import GradingContext, Message
from evaluators.judge import Judge
from evaluators.embedding_judge import EmbeddingJudge, epitome_level
from evaluators.epitome import ATTRIBUTION, EPITOME_FILES, load_epitome
from evaluators.features import read_turn
from evaluators.offline import OfflineJudge
from evaluators.rubric import Dimension
from simulator.engines import offline_judge_named

ROOT = Path(__file__).resolve().parent.parent


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def judge_labels(judge: Judge, items: list[dict]) -> list[dict]:
    labels = []
    for item in items:
        request = GradeRequest.model_validate(item)
        grade = judge.grade(request.context(), request.reply)
        labels.append({"scores": {d.value: s for d, s in grade.scores.items()},
                       "red_flags": [f.value for f in grade.red_flags]})
    return labels


def print_agreement(title: str, result: Agreement) -> None:
    ci = f" (95% CI {result.mean_qwk_ci[0]:.2f}-{result.mean_qwk_ci[1]:.2f})" if result.mean_qwk_ci else ""
    print(f"\n{title}: {result.items} turns, mean QWK {result.mean_qwk:.3f}{ci}, red-flag micro-F1 "
          f"{result.red_flag_micro_f1 if result.red_flag_micro_f1 is None else round(result.red_flag_micro_f1, 3)}")
    print(f"  {'dimension':<15} {'n':>4} {'QWK':>6} {'exact':>6} {'±1':>6} {'applic.':>8}")
    for dimension in Dimension:
        d = result.dimensions[dimension]
        fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
        print(f"  {dimension.value:<15} {d.both_scored:>4} {fmt(d.qwk):>6} {fmt(d.exact):>6} {fmt(d.within_one):>6} "
              f"{d.applicability:>8.2f}")
    flags = ", ".join(f"{f.value} {v:.2f}" for f, v in result.red_flag_f1.items() if v is not None)
    print(f"  red-flag F1: {flags}")


def cue_epitome_levels(judge: OfflineJudge, seeker: str, response: str) -> dict[str, int]:
    """The cue judge's signals read as EPITOME levels (0 none, 1 weak, 2 strong)."""
    context = GradingContext(history=[Message(role="customer", text=seeker)])
    s, flags = judge.read(context, response)
    warmth = s.has("feeling") or s.has("validate") or s.has("ownership") or s.has("acknowledge")
    sympathy = warmth or s.has("thanks") or bool(flags) or "sorry" in response.lower() or "hug" in response.lower()
    emotional = 2 if warmth and (s.has("validate") or s.has("feeling")) else 1 if sympathy else 0
    paraphrase = len(s.overlap) >= 3
    interpretation = 2 if s.has("check_understanding") or (s.has("acknowledge") and paraphrase) else \
        1 if s.has("acknowledge") or paraphrase else 0
    exploration = 2 if s.targeted_questions else 1 if s.questions else 0
    return {"emotional_reactions": emotional, "interpretations": interpretation, "explorations": exploration}


def embedding_epitome_levels(judge: EmbeddingJudge, seeker: str, response: str) -> dict[str, int]:
    """The embedding judge's EPITOME heads, read as levels (`epitome_level`)."""
    context = GradingContext(history=[Message(role="customer", text=seeker)])
    reading = read_turn(context, response, judge.encoder, judge.cue)
    return {m: epitome_level(p) for m, p in judge.epitome_levels(reading).items()}


def epitome(folder: Path, judges: dict[str, Callable[[str, str], dict[str, int]]]) -> None:
    """Macro-F1 on the held-out fifth of EPITOME (the embedding heads were trained on the other four)."""
    rows = [r for r in load_epitome(folder) if r["split"] == "test"]
    print(f"\nEPITOME ({ATTRIBUTION}): held-out {len(rows)} pairs, judge signals vs human levels")
    print(f"  {'mechanism':<22} {'judge':<28} {'binary macro-F1':>16} {'3-class macro-F1':>17}")
    predictions = {name: [levels(r["seeker_post"], r["response_post"]) for r in rows]
                   for name, levels in judges.items()}
    for mechanism in EPITOME_FILES:
        gold = [r[mechanism] for r in rows]
        for name, predicted_rows in predictions.items():
            predicted = [p[mechanism] for p in predicted_rows]
            binary = macro_f1([g > 0 for g in gold], [p > 0 for p in predicted])
            print(f"  {mechanism:<22} {name:<28} {binary:>16.3f} {macro_f1(gold, predicted):>17.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--judge", choices=["embedding", "cue", "llm"], default="embedding",
                        help="embedding (the default offline judge), cue (phrases only), "
                             "or llm (the configured endpoint)")
    parser.add_argument("--heads", type=Path, default=None,
                        help="with --judge embedding: a folder of retrained heads to measure before shipping them")
    parser.add_argument("--gold", type=Path, default=ROOT / "evaluators" / "gold")
    parser.add_argument("--split", choices=["dev", "test"], default="dev",
                        help="dev (170 turns, looked at while building the judges) or test (120 turns, held out: "
                             "measure on it, never tune on it)")
    parser.add_argument("--epitome", type=Path, default=ROOT.parent / "shared" / "data" / "epitome")
    parser.add_argument("--no-epitome", action="store_true", help="skip the EPITOME part")
    args = parser.parse_args()
    if args.heads and args.judge != "embedding":
        parser.error("--heads is for --judge embedding")
    items = load_jsonl(args.gold / f"{args.split}_items.jsonl")
    labels_a = load_jsonl(args.gold / f"{args.split}_labels_a.jsonl")
    labels_b_path = args.gold / f"{args.split}_labels_b.jsonl"
    if args.judge == "llm":
        from simulator.engines import build_engine

        judge: Judge = build_engine("llm").judge
    elif args.heads:
        judge = EmbeddingJudge(heads_dir=args.heads)
    else:
        judge = offline_judge_named(args.judge)
    predicted = judge_labels(judge, items)
    print_agreement(f"{judge.name} vs annotator A", agreement(labels_a, predicted))
    if labels_b_path.exists():
        labels_b = load_jsonl(labels_b_path)
        print_agreement(f"{judge.name} vs annotator B", agreement(labels_b, predicted))
        print_agreement("annotator B vs annotator A (the ceiling)", agreement(labels_a, labels_b))
    if args.epitome.exists() and not args.no_epitome:
        cue = OfflineJudge()
        judges = {cue.name: lambda seeker, response: cue_epitome_levels(cue, seeker, response)}
        if isinstance(judge, EmbeddingJudge):
            judges[judge.name] = lambda seeker, response: embedding_epitome_levels(judge, seeker, response)
        epitome(args.epitome, judges)


if __name__ == "__main__":
    main()
