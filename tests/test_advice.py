"""The advice rules (edge/sessions/advice.py): each rule fires where it should and stays quiet where it
should not, the comparisons across questions, short answers, the wording (figure shown, no judgement,
no claim about feelings, varied), the operator's settings, and docs/advice.md against the code."""
from __future__ import annotations

import itertools
import string

import pytest
from pydantic import ValidationError

from edge.config import ConfigError, EdgeConfig, dump, load_config
from edge.devtools import advice_doc
from edge.devtools.advice_doc import EXAMPLES, Q, example_summary
from edge.sessions.advice import (
    ADVICE_DISCLAIMER,
    FEELING_WORDS,
    JUDGEMENT_WORDS,
    KINDS,
    RULE_IDS,
    RULES,
    AdviceRules,
    RuleSetting,
    short_question,
)
from edge.sessions.aggregate import summarize
from edge.sessions.settings import SessionSettings

CALM = {"neutral": 0.65, "happy": 0.2, "sad": 0.05, "surprise": 0.05, "angry": 0.05}  # at ease 85 %
PLAIN = {"neutral": 0.45, "happy": 0.1, "sad": 0.15, "surprise": 0.15, "fear": 0.1, "angry": 0.05}  # nothing fires
SMILE = {"happy": 0.7, "neutral": 0.3}


def advise(*questions: Q, **settings) -> list[dict]:
    rules = AdviceRules([RuleSetting(rule=k, **v) for k, v in settings.items()])
    return rules.advise(example_summary(questions))


ANY = object()  # any scope


def fired(tips: list[dict], rule: str, segment: int | None | object = ANY) -> list[dict]:
    return [t for t in tips if t["rule"] == rule and (segment is ANY or t["segment"] == segment)]


def one(tips: list[dict], rule: str, segment: int | None | object = ANY) -> dict:
    found = fired(tips, rule, segment)
    assert len(found) == 1, (rule, segment, tips)
    return found[0]


# --- the output contract ------------------------------------------------------------------------------------

def check_contract(tips: list[dict]) -> None:
    scopes = [t["segment"] for t in tips]
    order = [-1 if s is None else s for s in scopes]
    assert order == sorted(order), "session-wide tips first, then each question in order"
    for _, group in itertools.groupby(tips, key=lambda t: t["segment"]):
        kinds = [KINDS.index(t["kind"]) for t in group]
        assert kinds == sorted(kinds), "strengths, then suggestions, then notes"
    for t in tips:
        assert list(t) == ["segment", "rule", "kind", "figure", "text"] and t["rule"] in RULE_IDS
        assert t["kind"] == next(r.kind for r in RULES if r.id == t["rule"])
        if t["figure"] is None:
            assert t["rule"] == "short_answer" and " s" in t["text"]
        else:
            assert 0 <= t["figure"] <= 1 and f"{round(t['figure'] * 100)} %" in t["text"], t


def test_tips_follow_the_contract_the_kiosk_displays():
    tips = advise(Q("Tell me about yourself.", 40, CALM, opening=SMILE),
                  Q("Tell me about a mistake you made and what you learnt from it.", 40,
                    {"neutral": 0.45, "happy": 0.1, "fear": 0.2, "angry": 0.1, "sad": 0.15}, face=0.6),
                  Q("Why us?", 6, CALM))
    check_contract(tips)
    assert [t["segment"] for t in tips][:1] == [None] and {t["segment"] for t in tips} == {None, 0, 1, 2}
    assert "not a score" in ADVICE_DISCLAIMER and "decisions" in ADVICE_DISCLAIMER
    assert "cannot tell what you feel" in ADVICE_DISCLAIMER


def test_the_same_summary_always_gets_the_same_tips():
    summary = example_summary(EXAMPLES["settled_in"])
    assert AdviceRules().advise(summary) == AdviceRules().advise(summary)


# --- one rule at a time: fires, and does not ------------------------------------------------------------------

def test_at_ease():
    tip = one(advise(Q("Tell me about yourself.", 45, CALM)), "at_ease", 0)
    assert tip["kind"] == "strength" and tip["figure"] == 0.85 and "calm or friendly for 85 %" in tip["text"]
    assert "“Tell me about yourself”" in tip["text"]
    assert not fired(advise(Q("Q?", 45, PLAIN)), "at_ease")  # 55 %


def test_opening_smile_counts_the_start_of_the_answer_only():
    tip = one(advise(Q("Tell me about yourself.", 40, PLAIN, opening=SMILE)), "opening_smile", 0)
    assert tip["figure"] == 0.7 and "first 5 s" in tip["text"]
    # the same smile later in the answer is no opening smile
    late = Q("Q?", 40, PLAIN)
    rows = advice_doc.rows_for([late])
    for r in rows[10:15]:
        r["shares"] = {**r["shares"], **dict.fromkeys(r["shares"], 0.0), **SMILE}
    assert not fired(AdviceRules().advise(summarize(rows, [{"index": 0, "question": "Q?"}])), "opening_smile")
    # an opening the model could not read is not judged
    assert not fired(advise(Q("Q?", 40, PLAIN, opening={}, uncertain=1.0)), "opening_smile")


def test_tense_counts_anger_fear_and_disgust_but_not_sadness():
    # the case: a 12-second answer read as tense 23 % of the time used to get "nothing to point out"
    tip = one(advise(Q("Why do you want this job?", 12, {"neutral": 0.77, "angry": 0.13, "fear": 0.1})), "tense", 0)
    assert tip["kind"] == "suggestion" and tip["figure"] == 0.23 and "23 %" in tip["text"]
    assert "breath" in tip["text"] and "sad" not in tip["text"]
    sad = advise(Q("Q?", 40, {"neutral": 0.6, "sad": 0.4}))
    assert not fired(sad, "tense") and one(sad, "subdued", 0)["figure"] == 0.4
    assert not fired(advise(Q("Q?", 40, {"neutral": 0.81, "angry": 0.1, "fear": 0.09})), "tense")  # 19 %


def test_subdued_is_said_gently():
    tip = one(advise(Q("Q?", 40, {"neutral": 0.45, "sad": 0.35, "happy": 0.1, "surprise": 0.1})), "subdued", 0)
    assert tip["kind"] == "suggestion" and "subdued" in tip["text"] and "tense" not in tip["text"]
    assert "35 %" in tip["text"] and "concentration" in tip["text"]
    assert not fired(advise(Q("Q?", 40, {"neutral": 0.76, "sad": 0.24})), "subdued")


def test_surprised_is_a_note():
    tip = one(advise(Q("Q?", 35, {"neutral": 0.5, "happy": 0.2, "surprise": 0.3})), "surprised", 0)
    assert tip["kind"] == "note" and tip["figure"] == 0.3
    assert not fired(advise(Q("Q?", 35, {"neutral": 0.7, "happy": 0.2, "surprise": 0.1})), "surprised")


def test_out_of_view_per_question_or_once_for_the_session():
    tips = advise(Q("A?", 30, CALM), Q("B?", 30, CALM, face=0.5))
    assert one(tips, "out_of_view")["segment"] == 1 and one(tips, "out_of_view")["figure"] == 0.5
    everywhere = advise(Q("A?", 30, CALM, face=0.5), Q("B?", 30, CALM, face=0.6))
    tip = one(everywhere, "out_of_view")  # said once, not for every question
    assert tip["segment"] is None and "55 %" in tip["text"] and "the session" in tip["text"]
    assert not fired(advise(Q("A?", 30, CALM, face=0.8)), "out_of_view")
    assert not fired(advise(Q("A?", 6, CALM, face=0.5)), "out_of_view")  # a short answer says so instead


def test_hard_to_read_per_question_or_once_for_the_session():
    tips = advise(Q("A?", 30, CALM, uncertain=0.5), Q("B?", 30, CALM, uncertain=0.5))
    tip = one(tips, "hard_to_read")
    assert tip["segment"] is None and tip["figure"] == 0.5 and "light" in tip["text"]
    one_question = advise(Q("A?", 30, CALM), Q("B?", 30, CALM, uncertain=0.5))
    assert one(one_question, "hard_to_read")["segment"] == 1
    assert not fired(advise(Q("A?", 30, CALM, uncertain=0.3)), "hard_to_read")


def test_a_short_answer_says_so_instead_of_nothing():
    tips = advise(Q("Tell me about yourself.", 40, CALM), Q("Why us?", 6, {"neutral": 0.5, "angry": 0.5}))
    own = [t for t in tips if t["segment"] == 1]
    assert [t["rule"] for t in own] == ["short_answer"]  # no share-based tip from six seconds
    assert own[0]["figure"] is None and "6 s" in own[0]["text"] and "“Why us?”" in own[0]["text"]
    assert not fired(advise(Q("Q?", 10, CALM)), "short_answer")
    assert "0 s" in one(advise(Q("Q?", 0, CALM)), "short_answer")["text"]


def test_little_to_read():
    tips = advise(Q("A?", 40, CALM), Q("B?", 30, CALM, face=0.3, uncertain=0.6))
    tip = one(tips, "little_to_read", 1)
    assert tip["figure"] == 0.13 and "4 s of 30 s" in tip["text"]
    assert not [t for t in tips if t["segment"] == 1 and t["kind"] != "note"]  # no expression tip from 4 s
    assert not fired(tips, "most_at_ease")  # nor a comparison
    assert not fired(advise(Q("A?", 6, CALM, face=0.3)), "little_to_read")  # short_answer speaks for it
    assert not fired(advise(Q("A?", 30, CALM, face=0.5)), "little_to_read")  # 15 s readable


def test_steady_when_nothing_else_came_up():
    tip = one(advise(Q("How do you keep your skills up to date?", 40, PLAIN)), "steady", 0)
    assert tip["kind"] == "strength" and tip["figure"] == 0.55 and "nothing" in tip["text"].lower()
    assert not fired(advise(Q("Q?", 40, CALM)), "steady")  # at_ease said it
    assert not fired(advise(Q("Q?", 40, {"neutral": 0.7, "angry": 0.3})), "steady")  # something to try
    # a note is no reason to leave out the strength
    tips = advise(Q("Q?", 40, {"neutral": 0.45, "happy": 0.1, "surprise": 0.3, "sad": 0.15}))
    assert fired(tips, "surprised") and fired(tips, "steady")


# --- comparisons across questions ---------------------------------------------------------------------------

def test_most_at_ease():
    tips = advise(Q("Tell me about yourself.", 40, CALM), Q("Why do you want this job?", 40, PLAIN))
    tip = one(tips, "most_at_ease")
    assert tip["segment"] is None and tip["figure"] == 0.85
    assert tip["text"].startswith("You looked most at ease on question 1 (“Tell me about yourself”)")
    assert "against 55 %" in tip["text"]
    close = {"neutral": 0.55, "happy": 0.22, "sad": 0.1, "surprise": 0.08, "angry": 0.05}  # 77 %, 8 points
    assert not fired(advise(Q("A?", 40, CALM), Q("B?", 40, close)), "most_at_ease")
    assert not fired(advise(Q("A?", 40, CALM)), "most_at_ease")  # nothing to compare with
    assert not fired(advise(Q("A?", 40, CALM), Q("B?", 8, PLAIN)), "most_at_ease")  # a short answer is left out


def test_most_tense():
    tense = {"neutral": 0.45, "happy": 0.1, "fear": 0.2, "angry": 0.1, "sad": 0.15}
    tips = advise(Q("A?", 40, CALM), Q("Tell me about a mistake you made.", 40, tense), Q("C?", 40, CALM))
    tip = one(tips, "most_tense")
    assert tip["kind"] == "suggestion" and tip["figure"] == 0.3 and "question 2" in tip["text"]
    assert "against 5 %" in tip["text"] and "practising" in tip["text"]
    assert not fired(advise(Q("A?", 40, CALM), Q("B?", 40, PLAIN)), "most_tense")  # 15 %: below tense's 20 %
    close = {"neutral": 0.7, "happy": 0.05, "fear": 0.15, "angry": 0.1}  # 25 % against 30 %
    assert not fired(advise(Q("A?", 40, tense), Q("B?", 40, close)), "most_tense")


def test_first_to_last_question():
    rising = advise(Q("A?", 40, PLAIN), Q("B?", 40, PLAIN), Q("C?", 40, CALM))
    tip = one(rising, "settled_in")
    assert tip["kind"] == "strength" and tip["figure"] == 0.85 and "from 55 % on question 1" in tip["text"]
    assert not fired(rising, "less_at_ease_later")
    falling = advise(Q("A?", 40, CALM), Q("B?", 40, CALM), Q("C?", 40, PLAIN))
    tip = one(falling, "less_at_ease_later")
    assert tip["kind"] == "suggestion" and tip["figure"] == 0.55 and "85 % on question 1" in tip["text"]
    assert not fired(falling, "settled_in")
    assert not fired(advise(Q("A?", 40, PLAIN), Q("B?", 40, CALM)), "settled_in")  # two: most_at_ease says it
    flat = advise(Q("A?", 40, CALM), Q("B?", 40, PLAIN), Q("C?", 40, CALM))
    assert not fired(flat, "settled_in") and not fired(flat, "less_at_ease_later")


def test_no_opening_smile():
    plain_start = {"neutral": 0.95, "happy": 0.05}
    tips = advise(*(Q(f"Q{i}?", 40, CALM, opening=plain_start) for i in range(3)))
    tip = one(tips, "no_opening_smile")
    assert tip["segment"] is None and tip["figure"] == 0.05 and "None of your 3 answers" in tip["text"]
    single = one(advise(Q("Tell me about yourself.", 40, CALM, opening=plain_start)), "no_opening_smile")
    assert single["text"].startswith("Question 1 (“Tell me about yourself”) did not open with a smile")
    smiled_once = advise(Q("A?", 40, CALM, opening=plain_start), Q("B?", 40, CALM, opening=SMILE))
    assert not fired(smiled_once, "no_opening_smile") and fired(smiled_once, "opening_smile", 1)


# --- every answer, every phrasing ---------------------------------------------------------------------------

MIXES = [CALM, PLAIN, SMILE, {"neutral": 0.6, "sad": 0.4}, {"neutral": 0.5, "angry": 0.3, "fear": 0.2},
         {"neutral": 0.6, "surprise": 0.4}, {"neutral": 1.0}]
ANSWERS = [Q("Tell me about a time you solved a difficult problem. What did you do?", seconds, mix, face,
              uncertain) for seconds in (0, 4, 12, 60) for mix in MIXES for face in (1.0, 0.5, 0.2)
           for uncertain in (0.0, 0.5)]


def sessions():
    """Sessions of one to four answers drawn from ANSWERS, deterministically, and one without questions."""
    for n in (1, 2, 3, 4):
        for start in range(0, len(ANSWERS), 7):
            yield tuple(ANSWERS[(start + 11 * i) % len(ANSWERS)] for i in range(n))


def test_every_answer_gets_a_line_and_every_tip_keeps_the_contract():
    for questions in sessions():
        tips = advise(*questions)
        check_contract(tips)
        for index in range(len(questions)):
            assert [t for t in tips if t["segment"] == index], (index, questions, tips)


def test_a_session_without_questions_is_one_answer():
    rows = advice_doc.rows_for([Q("", 30, PLAIN, opening={"neutral": 1.0})])
    for r in rows:
        r["segment"] = None
    tips = AdviceRules().advise(summarize(rows, []))
    check_contract(tips)
    assert {t["segment"] for t in tips} == {None} and "steady" not in [t["rule"] for t in tips]
    assert one(tips, "no_opening_smile")["text"].startswith("The session did not open with a smile")
    empty = AdviceRules().advise(summarize([], []))
    assert [t["rule"] for t in empty] == ["short_answer"] and "0 s" in empty[0]["text"]


def test_phrasings_show_their_figure_and_use_known_fields_only():
    known = {"answer", "Answer", "figure", "seconds", "readable", "question", "others", "first", "first_figure",
             "last", "count"}
    for rule in RULES:
        assert len(rule.phrasings) == (3 if rule.scope != "session" else len(rule.phrasings)), rule.id
        for phrasing in rule.phrasings:
            names = {name for _, name, _, _ in string.Formatter().parse(phrasing) if name}
            assert names <= known, (rule.id, names - known)
            assert ("figure" in names) != (rule.id == "short_answer"), rule.id
            assert rule.id != "short_answer" or "seconds" in names


def test_no_phrasing_judges_the_person_or_claims_a_feeling():
    assert JUDGEMENT_WORDS.search("your score") and JUDGEMENT_WORDS.search("we would hire you")
    assert FEELING_WORDS.search("you were nervous") and FEELING_WORDS.search("You felt calm")
    for rule in RULES:
        for phrasing in rule.phrasings:
            assert not JUDGEMENT_WORDS.search(phrasing), (rule.id, JUDGEMENT_WORDS.search(phrasing))
            assert not FEELING_WORDS.search(phrasing), (rule.id, FEELING_WORDS.search(phrasing))
    for questions in sessions():  # and the texts as filled in
        for tip in advise(*questions):
            assert not JUDGEMENT_WORDS.search(tip["text"]) and not FEELING_WORDS.search(tip["text"]), tip


def test_the_same_rule_reads_differently_on_each_question():
    tips = advise(Q("A?", 40, CALM), Q("B?", 40, CALM), Q("C?", 40, CALM))
    texts = [t["text"].replace("A?", "").replace("B?", "").replace("C?", "").replace(str(i + 1), "")
             for i, t in enumerate(fired(tips, "at_ease"))]
    assert len(texts) == 3 and len(set(texts)) == 3


def test_short_question_quotes():
    assert short_question("Tell me about yourself.") == "Tell me about yourself"
    assert short_question("  Why   us? ") == "Why us?"
    assert short_question("Describe a time you disagreed with someone at work or school. How did you handle "
                          "it?") == "Describe a time you disagreed with someone at…"
    assert short_question(None) == "" and short_question("x" * 60) == "x" * 48 + "…"
    tips = AdviceRules().advise(example_summary([Q("", 40, CALM)]))
    assert one(tips, "at_ease")["text"].startswith("Question 1: ")


# --- the operator's settings --------------------------------------------------------------------------------

def test_rules_can_be_turned_off_and_retuned():
    tense = Q("Q?", 40, {"neutral": 0.75, "angry": 0.25})
    assert fired(advise(tense), "tense")
    assert not fired(advise(tense, tense={"threshold": 0.3}), "tense")
    assert not fired(advise(tense, tense={"enabled": False}), "tense")
    assert fired(advise(Q("Q?", 8, CALM), short_answer={"threshold": 5}), "at_ease")
    settings = SessionSettings.model_validate({"advice": [{"rule": "tense", "threshold": 0.3},
                                                          {"rule": "steady", "enabled": False}]})
    rules = AdviceRules(settings.advice)
    assert "steady" not in [r.id for r in rules.rules] and rules.thresholds["tense"] == 0.3
    assert SessionSettings().advice == ()


@pytest.mark.parametrize("entry, message", [
    ({"rule": "tence", "threshold": 0.3}, "unknown advice rule 'tence'; the rules are: at_ease, opening_smile,"),
    ({"rule": "tense", "threshold": 30}, "'tense''s threshold is a share of time, 0 to 1 (got 30)"),
    ({"rule": "short_answer", "threshold": 900}, "seconds, 0 to 600"),
    ({"rule": "tense", "threshold": -0.1}, "0 to 1"),
    ({"rule": "steady", "threshold": 0.5}, "'steady' has no threshold"),
    ({"rule": "tense", "enabled": False, "threshold": 0.3}, "turned off: its threshold would not be used"),
    ({"rule": "tense"}, "changes nothing"),
    ({"rule": "tense", "threshold": 0.3, "text": "x"}, "now built in (docs/advice.md)"),
    ({"id": "tense", "expressions": ["angry"], "threshold": 0.3, "comparison": "above", "text": "{percent}"},
     "now built in"),
    ({"rule": "tense", "threshhold": 0.3}, "Extra inputs"),
])
def test_settings_are_validated_strictly(entry, message):
    with pytest.raises(ValidationError) as e:
        SessionSettings.model_validate({"advice": [entry]})
    assert message in str(e.value), str(e.value)


def test_each_rule_once_and_config_errors_name_the_key(tmp_path):
    with pytest.raises(ValidationError, match="'tense' is listed twice"):
        SessionSettings.model_validate({"advice": [{"rule": "tense", "threshold": 0.3},
                                                   {"rule": "tense", "enabled": False}]})
    path = tmp_path / "edge.toml"
    path.write_text('[[sessions.advice]]\nrule = "smiles"\nenabled = false\n')
    with pytest.raises(ConfigError, match=r"sessions\.advice\.0\.rule: unknown advice rule 'smiles'; the rules "
                                          r"are: at_ease, .*no_opening_smile"):
        load_config(path, {})
    path.write_text('[[sessions.advice]]\nrule = "tense"\nthreshold = 0.3\n\n'
                    '[[sessions.advice]]\nrule = "no_opening_smile"\nenabled = false\n')
    config = load_config(path, {})
    assert [(s.rule, s.enabled, s.threshold) for s in config.sessions.advice] == \
        [("tense", True, 0.3), ("no_opening_smile", False, None)]
    path.write_text(dump(config))
    assert load_config(path, {}) == config and load_config(path, {}) != EdgeConfig()


# --- docs/advice.md -----------------------------------------------------------------------------------------

def test_every_rule_has_an_example_that_fires_it():
    assert list(EXAMPLES) == list(RULE_IDS)
    for rule_id, questions in EXAMPLES.items():
        assert fired(advise(*questions), rule_id), rule_id


def test_the_doc_is_what_the_code_gives():
    text = advice_doc.DOC.read_text(encoding="utf-8")
    assert advice_doc.render(text) == text, "docs/advice.md is out of date: run python -m edge.devtools.advice_doc"
    for rule in RULES:
        assert f"| `{rule.id}` |" in text and f"### `{rule.id}`" in text
    assert advice_doc.main(["--check"]) == 0
