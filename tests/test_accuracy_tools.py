"""The accuracy benchmark's own tools: noise models, generator, metrics, naive baseline.

A benchmark that is wrong reports the wrong figures with full confidence, so its parts are
pinned here on small cases whose answers are known by hand.
"""

from __future__ import annotations

import random
import re

import pytest
from rapidfuzz.distance import Levenshtein

from benchmarks.accuracy import dedupe_prediction
from benchmarks.accuracy_baseline import baseline, word_shingles
from benchmarks.accuracy_corpus import (
    Doc,
    Skeleton,
    Unit,
    build_containment,
    build_skeleton,
    fill_family,
    render,
    seed_line_lengths,
)
from benchmarks.accuracy_metrics import (
    Prediction,
    adjusted_rand_index,
    containment_score,
    expected_removals,
    score,
)
from benchmarks.noise import LEVELS, OCR_CONFUSIONS, corrupt, edit_count, edit_ocr, mojibake
from dedupe import Config
from dedupe.repair import repair

SMALL = {"originals": 24, "syndicated": 6, "quoted": 4, "template_families": 2}


@pytest.fixture(scope="module")
def skeleton() -> Skeleton:
    return build_skeleton(3, **SMALL)


# --- adjusted Rand index -------------------------------------------------------------------


def test_ari_known_values() -> None:
    assert adjusted_rand_index([0, 0, 1, 1], [5, 5, 9, 9]) == 1.0  # labels are names only
    assert adjusted_rand_index([0, 0, 1, 1], [0, 0, 1, 2]) == pytest.approx(4 / 7)
    assert adjusted_rand_index([0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(-0.5)
    assert adjusted_rand_index(list("abcd"), list("wxyz")) == 1.0  # all singletons, both
    with pytest.raises(ValueError):
        adjusted_rand_index([1, 2], [1])


# --- noise ---------------------------------------------------------------------------------


def test_edit_count_is_exact_in_expectation() -> None:
    rng = random.Random(0)
    counts = [edit_count(50, 3.0, rng) for _ in range(4000)]
    assert set(counts) == {1, 2} and sum(counts) / len(counts) == pytest.approx(1.5, abs=0.05)


@pytest.mark.parametrize("level", ["light", "moderate", "heavy"])
def test_noise_rate_matches_its_level(level: str) -> None:
    rng = random.Random(1)
    text = ("The agency said space based reconnaissance is an area where North Korea is "
            "likely receiving Russian help, said a lawmaker who attended the hearing.")
    rate = LEVELS[level].rate
    edits = []
    for _ in range(300):
        noisy = corrupt(text, LEVELS[level], rng, edits=True)
        noisy = repair(noisy)[0].lower()  # whole-copy transforms are repaired away
        edits.append(Levenshtein.distance(text.lower(), noisy) / len(text) * 100)
    measured = sum(edits) / len(edits)
    # OCR confusions can cost two edits, look-alikes and soft hyphens one: about the rate.
    assert 0.7 * rate <= measured <= 1.8 * rate


def test_level_none_is_exact_and_noise_is_seeded() -> None:
    text = "North Korea Sends Foreign Minister to Russia"
    assert corrupt(text, LEVELS["none"], random.Random(1)) == text
    a = corrupt(text, LEVELS["heavy"], random.Random(7))
    assert a == corrupt(text, LEVELS["heavy"], random.Random(7)) and a != text


def test_ocr_and_mojibake_models() -> None:
    for seed in range(20):
        out = edit_ocr("modern", random.Random(seed))
        assert out != "modern"
        assert any(out == "modern".replace(src, dst, 1) for src, dst in OCR_CONFUSIONS), out
    assert mojibake("it’s") == "itâ€™s"
    assert repair(mojibake("Lipavský said it’s “late”"))[0] == "Lipavský said it’s “late”"


# --- the generator -------------------------------------------------------------------------


def test_skeleton_is_deterministic_and_balanced(skeleton: Skeleton) -> None:
    again = build_skeleton(3, **SMALL)
    assert [[u.text for u in d.units] for d in again.docs] == \
        [[u.text for u in d.units] for d in skeleton.docs]
    assert skeleton.negative_unit_pairs >= skeleton.positive_unit_pairs > 0
    assert skeleton.negative_doc_pairs >= skeleton.positive_doc_pairs
    heavy = render(skeleton, LEVELS["heavy"], 3)
    assert heavy.texts == render(skeleton, LEVELS["heavy"], 3).texts
    assert heavy.texts != render(skeleton, LEVELS["none"], 3).texts


def test_rendered_documents_have_one_unit_per_line(skeleton: Skeleton) -> None:
    rendered = render(skeleton, LEVELS["heavy"], 3)
    for doc, text in zip(skeleton.docs, rendered.texts, strict=True):
        lines = text.split("\n")
        assert len(lines) == len(doc.units) and all(line.strip() for line in lines)


def test_distinct_origins_are_not_copies_of_each_other(skeleton: Skeleton) -> None:
    """Two origins may share a template (a hard negative) but never a text."""
    keys: dict[str, str] = {}
    for doc in skeleton.docs:
        for unit in doc.units:
            if unit.dateline or unit.kind == "table":
                continue
            k = " ".join(re.sub(r"[^\w ]", " ", re.sub(r"\d+", "0", unit.text.lower())).split())
            assert keys.setdefault(k, unit.origin) == unit.origin, unit.text


def test_families_differ_in_every_word_slot() -> None:
    members = fill_family(["Police arrest {person} in {city} after {crime}"], 3,
                          random.Random(2))
    words = [set(m[0].split()) for m in members]
    for i in range(3):
        for j in range(i + 1, 3):
            assert len(words[i] ^ words[j]) >= 6  # three slots changed on each side


def test_unit_lengths_come_from_the_seed_scrape() -> None:
    lengths = seed_line_lengths()
    assert min(lengths) == 2 and max(lengths) > 500  # "TT" and the long paragraphs


def test_containment_corpus_marks_half_its_documents() -> None:
    sk = build_containment(1, documents=10)
    marked = [d for d in sk.docs if any(u.contained for u in d.units)]
    assert len(marked) == 5
    for doc in marked:
        line = next(u for u in doc.units if u.contained)
        assert any(line.text in u.text and u.text != line.text for u in doc.units)


# --- metrics on a hand-made corpus ---------------------------------------------------------


def _tiny() -> Skeleton:
    tt = Unit("TT", "bp:TT", "boilerplate", boilerplate=True)
    a = Unit("Storm hits the coast", "h1", "headline")
    body = Unit("A long paragraph about the storm and the flooded harbour road.", "b1", "body")
    other = Unit("A paragraph about something else entirely, the council budget.", "b2", "body")
    d0 = Doc([a, tt, body, a], cluster="h1", kind="original", site="s", ident=0)
    d1 = Doc([tt, other], cluster="h2", kind="original", site="s", ident=1)
    d2 = Doc([a, body], cluster="h1", kind="syndicated", site="s", near_dup_of=d0, ident=2)
    return Skeleton([d0, d1, d2])


def test_expected_removals_by_hand() -> None:
    assert expected_removals(_tiny()) == {(0, 1), (0, 3), (1, 0)}  # TT twice, the repeat


def test_score_by_hand() -> None:
    sk = _tiny()
    perfect = Prediction(near_dup={2: 0}, removed={(0, 1): None, (0, 3): (0, 0), (1, 0): (0, 1)})
    s = score(sk, perfect)
    assert (s["unit_precision"], s["unit_recall"], s["doc_precision"], s["doc_recall"]) == \
        (1.0, 1.0, 1.0, 1.0)
    assert s["unit_ari"] == 1.0 and s["doc_ari"] == 1.0
    sloppy = Prediction(near_dup={1: 0}, removed={(0, 2): None, (0, 3): (0, 0)})
    s = score(sk, sloppy)
    # removed: (0,2) wrong, (0,3) right, all of doc 1 (dropped) = (1,0) right + (1,1) wrong
    assert s["unit_precision"] == 0.5 and s["unit_recall"] == pytest.approx(2 / 3)
    assert s["doc_precision"] == 0.0 and s["doc_recall"] == 0.0 and s["doc_false_merges"] == 1


def test_containment_score_by_hand() -> None:
    line = Unit("Caption (AP)", "c", "caption", contained=True)
    doc = Doc([line, Unit("Caption (AP) and a paragraph", "g", "body"), line], cluster="x",
              kind="original", site="s", ident=0)
    sk = Skeleton([doc])
    pred = Prediction(removed={(0, 0): (0, 1), (0, 2): (0, 0)}, contained={(0, 0)})
    assert containment_score(sk, pred)["contained_recall"] == 1.0
    wrong = Prediction(removed={(0, 1): None}, contained={(0, 1)})
    assert containment_score(sk, wrong)["contained_precision"] == 0.0


# --- the baseline and the dedupe runner ----------------------------------------------------

BODY = ("The river flooded the lower town after three days of rain, and the council opened "
        "the school gym as a shelter for families who lost their homes.")
OTHER = ("Farmers in the valley say the late frost destroyed most of the apricot blossoms, "
         "which means a small harvest and higher prices at the market this summer.")


def test_word_shingles() -> None:
    assert word_shingles("A b c") == {"a b c"}
    assert len(word_shingles(" ".join("abcdefg"))) == 3


def test_baseline_keeps_first_and_misses_noisy_copies() -> None:
    noisy = BODY.replace("o", "0", 6)
    pred = baseline([f"TT\n{BODY}", f"TT\n{OTHER}", f"TT\n{BODY}", f"{noisy}\n{OTHER}x"])
    assert pred.near_dup == {2: 0}
    assert {(0, 0), (1, 0)} <= set(pred.removed)  # TT in two kept documents: boilerplate
    assert (3, 0) not in pred.removed  # six typos: the word shingles no longer match


def test_dedupe_prediction_reads_the_audit() -> None:
    texts = [f"TT\n{BODY}\n{BODY}", f"TT\n{OTHER}", f"TT\n{BODY}"]
    pred = dedupe_prediction(texts, Config(workers=1))
    assert pred.near_dup == {2: 0}
    assert pred.removed[(0, 2)] == (0, 1) and pred.removed[(1, 0)] == (0, 0)
    assert pred.removed[(0, 0)] == (0, 0)  # boilerplate: every copy, the first one too
