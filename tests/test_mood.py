import pytest

from evaluators.grade import TurnGrade
from evaluators.rubric import Dimension as D, RedFlag as F
from simulator.mood import band, turn_quality, update
from simulator.persona import AngerTraits, Cue, MoodBand, Outcome

TRAITS = AngerTraits(start=7, volatility=0.5, warmth=0.5, patience=3, resolve_at=3)


def grade(score: int | None, flags=()) -> TurnGrade:
    return TurnGrade(scores={d: score for d in D}, red_flags=list(flags), judge="test")


def step(anger, g, traits=TRAITS, *, reply="", triggers=(), soothers=(), streak=0, plan=False, turn=1):
    return update(anger, g, traits, reply=reply, triggers=list(triggers), soothers=list(soothers),
                  poor_streak=streak, plan_seen=plan, turn_number=turn)


def test_good_turn_lowers_anger_poor_turn_raises_it():
    assert step(7, grade(3)).anger_after < 7
    assert step(7, grade(0, [F.blame])).anger_after > 7


def test_same_inputs_same_result():
    assert step(6, grade(2)) == step(6, grade(2))


def test_volatility_scales_the_rise_and_warmth_the_fall():
    calm = TRAITS.model_copy(update={"volatility": 0.1, "warmth": 0.1})
    hot = TRAITS.model_copy(update={"volatility": 0.9, "warmth": 0.9})
    assert step(5, grade(0), hot).anger_after > step(5, grade(0), calm).anger_after
    assert step(5, grade(3), hot).anger_after < step(5, grade(3), calm).anger_after


def test_red_flags_cost_more_than_a_low_score_alone():
    assert turn_quality(grade(1, [F.calm_down, F.blame])) < turn_quality(grade(1))


def test_anger_stays_in_range():
    assert step(9.5, grade(0, list(F))).anger_after == 10
    assert step(0.5, grade(3)).anger_after == 0


def test_reaching_ten_escalates():
    assert step(9, grade(0, [F.calm_down])).outcome is Outcome.escalated


def test_patience_runs_out_and_the_customer_leaves():
    patient = TRAITS.model_copy(update={"volatility": 0.0})
    result = step(3, grade(1), patient, streak=2)
    assert result.poor_streak == 3 and result.outcome is Outcome.left


def test_resolution_needs_low_anger_and_a_plan():
    assert step(4, grade(3), plan=False).outcome is None
    assert step(4, grade(3), plan=True).outcome is Outcome.resolved


def test_triggers_and_soothers_are_persona_specific():
    trigger = Cue(phrases=["48 hours"], effect=2, why="was told to wait before")
    soother = Cue(phrases=["birthday"], effect=1, why="heard what matters")
    neutral = step(6, grade(2))
    assert step(6, grade(2), reply="Please wait 48 hours.", triggers=[trigger]).anger_after == neutral.anger_after + 2
    soothed = step(6, grade(2), reply="For the birthday, yes.", soothers=[soother])
    assert soothed.anger_after == neutral.anger_after - 1 and any("soother" in r for r in soothed.reasons)


def test_soothers_do_not_count_in_a_hostile_turn():
    soother = Cue(phrases=["birthday"], effect=3, why="x")
    hostile = grade(0, [F.blame])
    assert step(6, hostile, reply="birthday", soothers=[soother]).anger_after == step(6, hostile).anger_after


@pytest.mark.parametrize("anger,expected", [(0, MoodBand.calm), (3, MoodBand.calm), (5, MoodBand.tense),
                                            (7, MoodBand.angry), (8, MoodBand.furious), (10, MoodBand.furious)])
def test_bands(anger, expected):
    assert band(anger) is expected
