import pytest

from evaluators.agreement import agreement, macro_f1, quadratic_weighted_kappa
from evaluators.rubric import Dimension as D, RedFlag as F


def labels(score, flags=()):
    return {"scores": {d.value: score for d in D}, "red_flags": list(flags)}


def test_qwk_known_values():
    assert quadratic_weighted_kappa([0, 1, 2, 3], [0, 1, 2, 3]) == 1.0
    assert quadratic_weighted_kappa([0, 3, 0, 3], [3, 0, 3, 0]) == pytest.approx(-1.0)
    # by hand: observed weighted disagreement 1/9; expected from the marginals (8 + 1 + 2 + 4)/27 = 5/9
    assert quadratic_weighted_kappa([0, 1, 2], [0, 2, 2]) == pytest.approx(1 - (1 / 9) / (5 / 9))
    assert quadratic_weighted_kappa([], []) is None


def test_agreement_counts_applicability_and_flags():
    gold = [labels(3, ["blame"]), labels(None), labels(1)]
    other = [labels(2, ["blame", "jargon"]), labels(1), labels(1)]
    result = agreement(gold, other, bootstrap=50)
    empathy = result.dimensions[D.empathy]
    assert empathy.both_scored == 2 and empathy.exact == 0.5 and empathy.within_one == 1.0
    assert empathy.applicability == pytest.approx(2 / 3)
    assert result.red_flag_f1[F.blame] == 1.0 and result.red_flag_f1[F.jargon] == 0.0
    assert result.red_flag_micro_f1 == pytest.approx(2 / 3)
    assert result.mean_qwk_ci is not None


def test_macro_f1():
    assert macro_f1([0, 1, 1, 0], [0, 1, 1, 0]) == 1.0
    assert macro_f1([0, 0, 1, 1], [0, 0, 0, 0]) == pytest.approx((2 / 3 + 0) / 2)


def test_the_harness_measures_a_judge_on_the_split_it_is_given(tmp_path, monkeypatch, capsys):
    """`bench.judge_agreement --split test`: a judge scored against labels equal to its own grades on the
    test items agrees perfectly there, whatever the dev files say."""
    import json
    import sys

    from bench import judge_agreement
    from evaluators.offline import OfflineJudge

    gold = judge_agreement.ROOT / "evaluators" / "gold"
    items = judge_agreement.load_jsonl(gold / "test_items.jsonl")[:12]
    own = judge_agreement.judge_labels(OfflineJudge(), items)
    for split, labels_a in (("test", own), ("dev", [labels(0) for _ in items])):
        with (tmp_path / f"{split}_items.jsonl").open("w") as out:
            out.writelines(json.dumps(item) + "\n" for item in items)
        with (tmp_path / f"{split}_labels_a.jsonl").open("w") as out:
            out.writelines(json.dumps({"id": item["id"], **label}) + "\n" for item, label in zip(items, labels_a))
    monkeypatch.setattr(sys, "argv", ["judge_agreement", "--judge", "cue", "--gold", str(tmp_path), "--split", "test",
                                      "--no-epitome"])
    judge_agreement.main()
    printed = capsys.readouterr().out
    assert "offline cue judge v1 vs annotator A: 12 turns, mean QWK 1.000" in printed
    assert "EPITOME" not in printed and "annotator B" not in printed
