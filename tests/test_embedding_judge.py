"""The embedding judge: packaged model and tokenizer (checked), neutral reading, trained heads, honest quotes."""

import json

import numpy as np
import pytest

from evaluators.embedding_judge import EmbeddingJudge, epitome_level
from evaluators.embeddings import EmbeddingUnavailable, SentenceEncoder, default_encoder, model_file
from evaluators.heads import HEADS_DIR, HeadFileError, LinearHead, ScoreHead, decode, load_head
from evaluators.neutral import neutralise
from evaluators.rubric import Dimension as D, RedFlag as F
from simulator.engines import EngineUnavailable, build_engine, offline_judge_named
from tests.conftest import context

OPENING = ("I paid for next-day delivery for my son's birthday present, your tracking says it was delivered "
           "yesterday, and there is NOTHING on my doorstep. What are you going to do about it?")


@pytest.fixture(scope="module")
def judge() -> EmbeddingJudge:
    return offline_judge_named("embedding")


def test_model_and_tokenizer_come_from_installed_packages_and_are_checked(tmp_path, monkeypatch):
    assert "site-packages" in str(model_file()) or "dist-packages" in str(model_file())
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"not a model")
    monkeypatch.setenv("DEFUSE_EMBEDDING_MODEL", str(fake))
    with pytest.raises(EmbeddingUnavailable, match="not the pinned file.*DEFUSE_EMBEDDING_MODEL"):
        SentenceEncoder().vector("hello")


def test_vectors_carry_meaning_and_sentences_come_from_the_same_run():
    encoder = default_encoder()
    parcel, lost, weather = (encoder.vector(t) for t in (
        "My parcel never arrived.", "The package I ordered was lost in delivery.", "It is sunny in Lisbon today."))
    assert abs(float(parcel @ parcel) - 1) < 1e-4
    assert parcel @ lost > parcel @ weather + 0.2
    text = "My parcel never arrived. It is sunny in Lisbon today."
    embedded = encoder.embed(text, [(0, 24), (25, len(text))])
    assert embedded.spans[0] @ parcel > embedded.spans[0] @ weather
    assert embedded.spans[1] @ weather > embedded.spans[1] @ parcel


def test_neutral_text_maps_quotes_back_to_the_trainees_words():
    neutral = neutralise("Mrs Whitfield, I know she said her parcel was late. Dana, I'm on it.", "Dana Whitfield")
    assert neutral.text == "Alex, I know they said them parcel was late. Alex, I'm on it."
    assert neutral.original("Alex, I'm on it.") == "Dana, I'm on it."
    assert neutral.original("Alex, I know they said") == "Mrs Whitfield, I know she said"


def test_probabilities_decode_to_a_score_or_not_applicable():
    assert decode({"na": 0.7, "0": 0.1, "1": 0.1, "2": 0.05, "3": 0.05}) is None
    assert decode({"0": 0.1, "1": 0.2, "2": 0.6, "3": 0.1}) == 2
    assert epitome_level({"0": 0.6, "1": 0.3, "2": 0.1}) == 0 and epitome_level({"0": 0.4, "1": 0.1, "2": 0.5}) == 2


def test_a_head_file_with_the_wrong_layout_names_the_file_and_the_fix(tmp_path):
    for path in HEADS_DIR.glob("*.json"):
        (tmp_path / path.name).write_text(path.read_text())
    head = json.loads((tmp_path / "rubric_empathy.json").read_text())
    head["members"][1]["features"][0] = "something_else"
    (tmp_path / "rubric_empathy.json").write_text(json.dumps(head))
    with pytest.raises(HeadFileError, match="rubric_empathy.json: features: .*member1.*retrain"):
        EmbeddingJudge(heads_dir=tmp_path)
    head["members"][1]["features"][0] = "pc0"
    head["cutpoints"] = [1.5, 0.5, 2.5]
    (tmp_path / "rubric_empathy.json").write_text(json.dumps(head))
    with pytest.raises(HeadFileError, match="rubric_empathy.json: .*cutpoints must increase"):
        EmbeddingJudge(heads_dir=tmp_path)
    (tmp_path / "rubric_plan.json").write_text("{not json")
    with pytest.raises(HeadFileError, match="rubric_plan.json"):
        load_head("rubric_plan", tmp_path)


def test_a_linear_head_is_a_softmax_over_its_classes():
    head = LinearHead(name="t", classes=["0", "1", "2"], features=["a", "b"], mean=[0, 0], scale=[1, 1],
                      weights=[[1, 0], [0, 1], [-1, -1]], bias=[0, 0, 0], trained_on="test")
    p = head.proba(np.array([2.0, 0.0]))
    assert abs(sum(p.values()) - 1) < 1e-6 and max(p, key=p.get) == "0"


def test_a_score_head_averages_its_members_and_reads_the_expected_score_against_its_cutpoints():
    def member(weights):
        return LinearHead(name="m", classes=["0", "1", "2", "3"], features=["a"], mean=[0], scale=[1],
                          weights=weights, bias=[0, 0, 0, 0], trained_on="test")
    leans_high, leans_low = member([[0], [0], [1], [3]]), member([[2], [1], [0], [0]])
    x = np.array([1.0])
    averaged = ScoreHead(name="s", members=[leans_high, leans_low], cutpoints=[0.5, 1.5, 2.5],
                         trained_on="test").proba([x, x])
    assert averaged == pytest.approx({c: (leans_high.proba(x)[c] + leans_low.proba(x)[c]) / 2 for c in "0123"})
    expected = sum(int(c) * p for c, p in averaged.items())
    assert 0.7 < expected < 2.3
    for boundary, score in ((expected - 0.1, 2), (expected + 0.1, 1)):
        head = ScoreHead(name="s", members=[leans_high, leans_low], cutpoints=[0.5, boundary, 2.5], trained_on="test")
        assert head.decode(averaged) == score


def test_hostile_reply_is_harmful_with_quoted_evidence(judge):
    reply = "Calm down. You should have checked the address before ordering."
    grade = judge.grade(context(OPENING), reply)
    assert grade.scores[D.perspective] == 0 and grade.scores[D.empathy] == 0
    assert {F.calm_down, F.blame} <= set(grade.red_flags)
    for quotes in grade.evidence.values():
        assert all(q.strip("…") in reply for q in quotes)


def test_strong_reply_scores_high_and_quotes_the_trainee(judge):
    reply = ("Dana, paying for next-day delivery and finding nothing on the doorstep before your son's birthday "
             "is awful, and you're right to be angry. I'm opening a trace with the courier now and I'll call you "
             "by 4 pm today with what they say. Does that work for you?")
    grade = judge.grade(context(OPENING), reply)
    assert grade.scores[D.empathy] >= 2 and grade.scores[D.plan] >= 2 and grade.scores[D.follow_through] >= 2
    assert grade.red_flags == [] and grade.judge == "offline embedding judge v1"
    assert all(q.strip("…") in reply for quotes in grade.evidence.values() for q in quotes)


def test_filler_is_removed_before_grading_and_said_so(judge):
    grade = judge.grade(context(OPENING), "Let me check the courier. Our company has served customers since 1987.")
    assert "filler not graded: Our company has served customers since 1987." in grade.note


def test_an_order_to_the_customer_is_graded_not_dropped_as_filler(judge):
    for order in ("Be patient.", "Ask a neighbour."):
        grade = judge.grade(context(OPENING), f"Let me check the courier. {order}")
        assert grade.note is None or order not in grade.note


def test_prepare_embeds_the_customer_line_before_the_reply_arrives(judge):
    ctx = context("A brand new customer message about a broken kettle, never seen before in this test run.")
    before = judge.encoder._embed.cache_info().hits
    judge.prepare(ctx)
    judge.grade(ctx, "I'm sorry the kettle broke. When did you buy it?")
    assert judge.encoder._embed.cache_info().hits > before


def test_engine_uses_the_embedding_judge_by_default_and_the_cue_judge_on_request(monkeypatch):
    build_engine.cache_clear()
    try:
        engine = build_engine("offline")
        assert engine.judge.name == "offline embedding judge v1" and "embedding judge" in engine.label
        monkeypatch.setenv("DEFUSE_OFFLINE_JUDGE", "cue")
        build_engine.cache_clear()
        assert build_engine("offline").judge.name == "offline cue judge v1"
        monkeypatch.setenv("DEFUSE_OFFLINE_JUDGE", "nonsense")
        build_engine.cache_clear()
        with pytest.raises(EngineUnavailable, match="choose one of: embedding, cue"):
            build_engine("offline")
    finally:
        build_engine.cache_clear()


@pytest.mark.filterwarnings("ignore:The least populated class")
def test_training_writes_heads_the_judge_can_load(tmp_path):
    pytest.importorskip("sklearn")
    from evaluators.train_heads import load_training, train_rubric, TRAINING_DIR

    pairs = load_training(TRAINING_DIR)[:80]
    epitome = {m: load_head(f"epitome_{m}") for m in ("emotional_reactions", "interpretations", "explorations")}
    for name in epitome:
        (tmp_path / f"epitome_{name}.json").write_text((HEADS_DIR / f"epitome_{name}.json").read_text())
    train_rubric(pairs, default_encoder(), epitome, tmp_path)
    judge = EmbeddingJudge(heads_dir=tmp_path)
    grade = judge.grade(context(OPENING), "Calm down. It's policy.")
    assert grade.scores[D.perspective] == 0
    assert "80 training turns" in load_head("rubric_plan", tmp_path, ScoreHead).trained_on


def test_filler_among_the_quotes_of_another_judge(judge):
    quoted = ["Let me check the courier.", "Our company has served customers since 1987.", "Have a wonderful day.",
              "Your son's birthday present matters."]
    assert judge.filler_among(context(OPENING), quoted) == quoted[1:3]


def test_a_broken_model_file_falls_back_to_the_cue_judge_and_says_why(tmp_path, monkeypatch):
    from evaluators import embeddings
    from simulator import engines

    broken = tmp_path / "model.onnx"
    broken.write_bytes(b"truncated download")
    monkeypatch.setenv("DEFUSE_EMBEDDING_MODEL", str(broken))
    monkeypatch.delenv("DEFUSE_OFFLINE_JUDGE", raising=False)
    caches = (build_engine, engines._offline_judge, embeddings._checked_files)
    for cache in caches:
        cache.cache_clear()
    try:
        engine = build_engine("offline")
        assert engine.judge.name == "offline cue judge v1"
        assert "embedding judge is unavailable" in engine.label and "not the pinned file" in engine.label
        with pytest.raises(EngineUnavailable, match="DEFUSE_OFFLINE_JUDGE=cue"):
            build_engine("offline", offline_judge="embedding")
    finally:
        for cache in caches:
            cache.cache_clear()
