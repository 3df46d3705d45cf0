"""The cue judge against hand-labelled replies (its bias probes are in test_judge_probes.py)."""

import pytest

from evaluators.rubric import Dimension as D, RedFlag as F
from evaluators.offline import OfflineJudge, RubricCueError
from evaluators.rubric import Rubric
from tests.conftest import context

OPENING = ("I paid for next-day delivery for my son's birthday present, your tracking says it was delivered "
           "yesterday, and there is NOTHING on my doorstep. What are you going to do about it?")
GOOD_FIRST = ("Dana, I'm so sorry your son's birthday present hasn't arrived after you paid for next-day delivery. "
              "That must be really upsetting with the party coming, and you're right to expect better. Thank you "
              "for telling me. I'm here to help and we'll sort this out together. Could you tell me what the "
              "tracking photo shows?")


def test_hostile_reply_scores_zero_and_flags_what_it_did(judge):
    grade = judge.grade(context(OPENING), "Calm down. You should have checked the address before ordering.")
    assert grade.scores[D.perspective] == 0 and grade.scores[D.empathy] == 0
    assert {F.calm_down, F.blame} <= set(grade.red_flags)
    assert grade.evidence["blame"] == ["You should have checked the address before ordering."]


def test_strong_first_reply(judge):
    grade = judge.grade(context(OPENING), GOOD_FIRST)
    assert grade.scores[D.perspective] == 3
    assert grade.scores[D.facilitator] == 3
    assert grade.scores[D.empathy] == 3
    assert grade.scores[D.plan] is None, "no plan is expected before the problem is understood"
    assert grade.red_flags == []
    assert any("tracking photo" in q for q in grade.evidence["facilitator"])


def test_specific_apology_is_not_hollow(judge):
    grade = judge.grade(context(OPENING), "I'm sorry your son's birthday present never arrived - that's awful.")
    assert F.hollow_apology not in grade.red_flags
    assert grade.scores[D.empathy] >= 2


@pytest.mark.parametrize("reply,expected", [
    ("We'll look into it.", 1),
    ("I'll open a trace with the courier now.", 2),
    ("I'll open a trace with the courier today, and you'll hear by 4 pm tomorrow. I can't promise it turns up "
     "by Saturday, so I can also reserve the bike at your local store. Does that work for you?", 3),
    ("I guarantee it will arrive tomorrow, 100%.", 0),
    ("There's nothing we can do, no refunds.", 0),
])
def test_plan_levels(judge, reply, expected):
    later = context("So what now?", ("customer", OPENING), ("trainee", "I'm sorry, let me check."))
    assert judge.grade(later, reply).scores[D.plan] == expected


@pytest.mark.parametrize("reply,expected", [
    ("Someone will get back to you.", 1),
    ("I'll chase the courier myself.", 2),
    ("I'll personally call you by 4 pm tomorrow. Your reference number is 55821, and I'll email you a summary.", 3),
])
def test_follow_through_levels(judge, reply, expected):
    later = context("Fine. And then?", ("customer", OPENING), ("trainee", "I'll open a trace now."))
    assert judge.grade(later, reply).scores[D.follow_through] == expected


def test_breaking_an_earlier_commitment_scores_zero(judge):
    later = context("So did you call the courier?", ("customer", OPENING),
                    ("trainee", "I'll call the courier and ring you back at 3 pm."))
    grade = judge.grade(later, "Actually, we can't contact the courier, you'll have to call them.")
    assert grade.scores[D.follow_through] == 0


def test_follow_through_not_applicable_before_any_commitment(judge):
    assert judge.grade(context(OPENING), GOOD_FIRST).scores[D.follow_through] is None


def test_dismissal_and_policy(judge):
    grade = judge.grade(context(OPENING), "That's not my department. It's company policy, you'll have to call the courier.")
    assert grade.scores[D.facilitator] == 0
    assert F.policy_hiding in grade.red_flags
    assert grade.scores[D.perspective] <= 1


def test_pushing_process_through_distress_is_harmful(judge):
    grade = judge.grade(context(OPENING), "Please provide your order number.")
    assert grade.scores[D.empathy] == 0


def test_html_and_huge_text_are_graded_without_error(judge):
    grade = judge.grade(context(OPENING), "<script>alert('x')</script> " + "blah " * 20000)
    assert set(grade.scores) == set(D)


def test_rubric_without_required_cue_groups_is_refused(rubric):
    broken = Rubric.model_validate({**rubric.model_dump(mode="json"), "cues": {"feeling": ["sad"]}})
    with pytest.raises(RubricCueError, match="missing cue groups"):
        OfflineJudge(broken)


@pytest.mark.parametrize("text", ["I'm SO sorry you feel that way.", "i'm so sorry you feel that way.",
                                  "I'M SO SORRY YOU FEEL THAT WAY.", "That Is Our Policy, I'm Afraid."])
def test_cue_groups_are_found_in_any_case_as_their_patterns_say(judge, text):
    """The one-scan prefilter reads lower-cased text; it must never skip a group whose patterns match."""
    import re

    from evaluators.text import find_cues, normalise

    groups = [spec.cues for spec in judge.rubric.red_flags.values()] + list(judge.rubric.cues.values())
    for patterns in groups:
        expected = [(p, m.start()) for p in patterns for m in re.finditer(p, normalise(text), re.IGNORECASE)]
        assert [(h.pattern, h.start) for h in find_cues(normalise(text), patterns)] == expected
