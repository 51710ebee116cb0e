"""Matching under noise: copies with typos, OCR slips and look-alikes match; hard negatives
(same wording, different facts) do not; digits fold in prose but not in tables; documents
match through their units; containment. Each test pins one behaviour on a small example."""

from __future__ import annotations

import pytest

from dedupe import Config, clean, preset
from dedupe.containment import contained_in
from dedupe.model import Result
from dedupe.normalize import normalize
from dedupe.verify import Verifier, differing_facts, vetoed

BODY_A = ("The river flooded the lower town after three days of rain, and the council opened "
          "the school gym as a shelter for families who lost their homes.")
BODY_B = ("Farmers in the valley say the late frost destroyed most of the apricot blossoms, "
          "which means a small harvest and higher prices at the market this summer.")
BODY_C = ("A new bridge over the canal will open next spring, the transport office said, "
          "after two years of delays caused by a shortage of steel and skilled welders.")
BODY_D = ("Hospital leaders warned that waiting times for routine operations would rise again "
          "this winter unless more beds were opened for patients who are well enough to leave.")
BODY_E = ("The festival opened on Friday evening with a concert by the national orchestra in "
          "the cathedral square, where thousands gathered despite the cold wind.")


def reasons(result: Result) -> list[tuple[str, str]]:
    return [(r.reason, r.text) for r in result.removals]


def key(text: str) -> str:
    return normalize(text)


# --- the word veto -------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b"), [
    ("Police arrest man in Leeds after stabbing", "Police arrest woman in York after robbery"),
    ("Weather warning for Bristol", "Weather warning for Norwich"),
    ("Sign up for the morning briefing", "Sign up for the evening briefing"),
    ("Shares in Tesco rose by 4 per cent on Monday after strong sales",
     "Shares in Tesco fell by 4 per cent on Monday after strong sales"),
    ("The company said sales to the end of June were up on last year",
     "The company said sales to the end of July were up on last year"),  # a calendar word
    ("Leeds  12  8  2  2  26", "Leeds  12  7  3  2  24"),  # a table row a week later
])
def test_different_facts_are_vetoed(a: str, b: str) -> None:
    assert vetoed(key(a), key(b), 0.3)


@pytest.mark.parametrize(("a", "b"), [
    ("North Korea Sends Foreign Minister to Russia",
     "Nroth Korea Sends Foriegn Minister to Russia"),
    ("Soldiers march in a parade for the anniversary",
     "So1diers rnarch in a parade for the anniversary"),
    ("The government announced a new plan", "The gov- ernment announced a new plan"),  # split word
    ("REPORT: Storm hits the coast at dawn", "Storm hits the coast at dawn"),  # words added
    ("Updated 10:32", "Updated 09:15"),  # a dateline: prose digits fold
    ("DAX  37,572.7  +1.11%", "DAX  37,572.7  +1.1l%"),  # an OCR l in a figure
])
def test_noise_is_not_a_fact(a: str, b: str) -> None:
    assert not vetoed(key(a), key(b), 0.3)


def test_differing_facts_counts_stretches_and_figures() -> None:
    facts = differing_facts(key("Police arrest man in Leeds after stabbing"),
                            key("Police arrest woman in York after robbery"), 0.3)
    assert facts.stretches == 2 and not facts.figures  # man/woman is within a typo's reach
    table = differing_facts(key("| 2019 | 1,234 | 5.6 |"), key("| 2019 | 1,284 | 5.6 |"), 0.3)
    assert table.figures


def test_one_corrected_word_in_a_long_paragraph_is_still_a_copy() -> None:
    long = " ".join([BODY_A, BODY_B, BODY_C, BODY_D])
    assert not vetoed(key(long), key(long.replace("apricot", "peach")), 0.3)
    assert vetoed(key(BODY_B), key(BODY_B.replace("apricot", "peach")), 0.3)


def test_verifier_matches_by_edit_similarity_below_the_jaccard_threshold() -> None:
    verifier = Verifier(Config())
    a = key(BODY_A)
    noisy = key(BODY_A.replace("flooded", "fl0oded").replace("council", "counci1")
                .replace("shelter", "shleter").replace("families", "fami1ies"))
    sim = verifier.long_units(a, noisy, jaccard=0.5)  # below unit_threshold 0.7
    assert sim is not None and 0.9 <= sim < 1.0
    assert verifier.long_units(a, key(BODY_B), jaccard=0.5) is None


# --- whole runs: noisy copies match, hard negatives stay ----------------------------------


def test_noisy_repeats_inside_a_document_go() -> None:
    doc = "\n".join(["North Korea Sends Foreign Minister to Russia",
                     "Soldiers march in a parade in Pyongyang on Sept. 9, 2018. (AP)",
                     "NORTH KOREA SENDS FOREIGN MINlSTER TO RUSSlA",  # OCR l for I, upper case
                     "Sоldiers mаrch in a parade in Pyongyang on Sept. 9, 2018. (AP)",  # Cyrillic
                     BODY_A])
    (result,) = clean([doc])
    assert [r.role for r in result.removals] == ["headline", "caption"]


def test_hard_negative_headlines_both_stay() -> None:
    docs = [f"Police arrest man in Leeds after stabbing\n{BODY_A}",
            f"Police arrest woman in York after robbery\n{BODY_B}"]
    results = list(clean(docs))
    assert [r.text for r in results] == docs


def test_short_lines_one_word_apart_are_not_boilerplate() -> None:
    docs = [f"Weather warning for Bristol\n{BODY_A}", f"Weather warning for Norwich\n{BODY_B}"]
    assert [r.removals for r in clean(docs)] == [(), ()]


def test_dateline_digits_fold_so_it_is_boilerplate() -> None:
    docs = [f"Updated 10:32\n{BODY_A}", f"{BODY_B}\nUpdated 09:15", f"{BODY_C}\nUpdated 11:05"]
    results = list(clean(docs))
    assert [reasons(r) for r in results] == [[("boilerplate", "Updated 10:32")],
                                             [("boilerplate", "Updated 09:15")],
                                             [("boilerplate", "Updated 11:05")]]


def test_table_rows_that_differ_only_in_figures_all_stay() -> None:
    rows = ["Leeds  12  8  2  2  26", "Leeds  13  8  3  2  27", "Leeds  14  9  3  2  30"]
    docs = [f"{row}\n{body}" for row, body in zip(rows, (BODY_A, BODY_B, BODY_C), strict=True)]
    assert [r.removals for r in clean(docs)] == [(), (), ()]


def test_prose_that_differs_only_in_figures_is_one_line() -> None:
    # The documented trade-off of folding digits outside tables: 10 and 12 are one key.
    docs = [f"Police said 10 people were hurt in the crash on the ring road\n{BODY_A}",
            f"Police said 12 people were hurt in the crash on the ring road\n{BODY_B}"]
    assert [len(r.removals) for r in clean(docs)] == [1, 1]


# --- documents through their units ------------------------------------------------------------


def test_syndicated_copy_with_typos_new_headline_and_extra_paragraph_is_dropped() -> None:
    original = "\n".join(["Storm Hits the Coast", BODY_A, BODY_B, BODY_C, BODY_D])
    copy = "\n".join(["REPORT: storm on the coast",
                      BODY_A.replace("flooded", "floded").replace("council", "counci1"),
                      BODY_B.replace("apricot", "apricоt"),  # Cyrillic о
                      BODY_C, BODY_D.replace("winter", "wintre"), BODY_E])
    results = list(clean([original, copy]))
    assert results[1].text is None
    (removal,) = results[1].removals
    assert removal.reason == "near_duplicate_document"
    assert removal.similarity is not None and 0.6 <= removal.similarity < 1.0


def test_documents_from_one_template_with_different_facts_are_kept() -> None:
    template = ("Police in {city} have arrested a {age}-year-old {who} after a {crime} on "
                "{street} on {day} evening, and officers are asking witnesses to come forward.\n"
                "Officers were called to {street} at about {hour} and found a {victim} with "
                "{injury} injuries, a spokesperson for {force} Police said.\n"
                "The {who} is being held in custody and is expected to appear before {court} "
                "Magistrates' Court on {day2}.")
    a = template.format(city="Leeds", age=34, who="man", crime="stabbing", street="Mill Road",
                        day="Monday", hour="11pm", victim="woman", injury="serious",
                        force="West Yorkshire", court="Bradford", day2="Wednesday")
    b = template.format(city="Bristol", age=19, who="teenager", crime="robbery",
                        street="High Street", day="Friday", hour="9pm", victim="pensioner",
                        injury="minor", force="Avon and Somerset", court="Bath", day2="Monday")
    results = list(clean([a, b]))
    assert [r.text for r in results] == [a, b]


def test_cleaning_twice_changes_nothing_with_noisy_copies() -> None:
    docs = [f"Storm Hits the Coast\n{BODY_A}\n{BODY_B}\nFollow us on Facebook",
            f"Storm hits the coast\n{BODY_A.replace('flooded', 'floded')}\n{BODY_C}\n"
            "Follow us on Facebok",
            f"{BODY_D}\n{BODY_C.replace('canal', 'cana1')}\n{BODY_E}"]
    once = [r.text for r in clean(docs) if r.text is not None]
    assert [r.text for r in clean(once)] == once


# --- containment -----------------------------------------------------------------------------


def test_contained_in_finds_a_noisy_caption_inside_a_paragraph() -> None:
    caption = key("Soldiers march in a parade in Pyongyang (AP)")
    paragraph = key("Soldiers march in a parade in Pyongyang (AP) " + BODY_A)
    assert contained_in(caption, paragraph, 0.9, 0.3) == 1.0
    noisy = key("So1diers march in a parade in Pyongyang (AP) " + BODY_A)
    sim = contained_in(caption, noisy, 0.9, 0.3)
    assert sim is not None and 0.9 <= sim < 1.0
    other = key("Police arrest woman in York after robbery. " + BODY_B)
    assert contained_in(key("Police arrest man in Leeds after stabbing"), other, 0.8, 0.3) is None


def test_drop_contained_is_off_by_default_and_removes_the_standalone_line() -> None:
    caption = "Soldiers march in a parade in Pyongyang on Sept. 9, 2018. (AP)"
    doc = "\n".join(["North Korea Sends Foreign Minister", caption, f"{caption} {BODY_A}", BODY_B])
    (kept,) = clean([doc])
    assert kept.removals == ()
    (result,) = clean([doc], Config(drop_contained=True))
    (removal,) = result.removals
    assert removal.text == caption and removal.reason == "repeated_in_document"
    assert removal.detail == "contained in a longer unit" and removal.role == "caption"
    assert removal.duplicate_of is not None and removal.duplicate_of.position == 3


# --- presets ---------------------------------------------------------------------------------


def test_presets_order_their_thresholds() -> None:
    default, strict, noisy = preset("default"), preset("strict"), preset("noisy")
    assert strict.unit_edit_threshold > default.unit_edit_threshold > noisy.unit_edit_threshold
    assert strict.word_tolerance < default.word_tolerance < noisy.word_tolerance
    assert noisy.candidate_threshold < default.candidate_threshold
    assert default.unit_lsh_threshold == min(default.candidate_threshold, default.unit_threshold)
