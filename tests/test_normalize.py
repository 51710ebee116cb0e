"""Match keys: each step pinned on small examples, plus properties of the fused pipeline."""

from __future__ import annotations

import contextlib
import functools
import unicodedata
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedupe import normalize as nz
from dedupe.config import NORMALIZE_STEPS
from dedupe.normalize import (
    STEP_FUNCTIONS,
    is_tabular,
    normalize,
    normalize_many,
    normalizer,
    step_casefold,
    step_confusables,
    step_dehyphenate,
    step_digits,
    step_nfkc,
    step_punctuation,
    step_strip_accents,
    step_whitespace,
)

ALL = NORMALIZE_STEPS


def without(step: str) -> tuple[str, ...]:
    return tuple(s for s in ALL if s != step)


# --------------------------------------------------------------------------------------------
# Pinned examples
# --------------------------------------------------------------------------------------------

SAME = [
    ("NORTH KOREA’S", "North Korea's"),  # case + curly apostrophe
    ("Soldiers  march", "Soldiers march"),  # double space
    ("Nоrth Kоrеа", "North Korea"),  # Cyrillic о, о, е
    ("NАТО summit", "NATO summit"),  # Cyrillic А, Т in upper case
    ("αlphα ѕcοре", "alpha scope"),  # Greek α ο, Cyrillic ѕ е р
    ("Lipavský", "Lipavsky"),
    ("ﬁnance", "finance"),  # ligature
    ("ＡＢＣ １２３", "ABC 123"),  # full-width
    ("x² + y²", "x2 + y2"),  # superscripts
    ("2019–2020 — a “report”", "2019-2020 - a \"report\""),  # en/em dash, curly quotes
    ("«Quote» ‚low‘ „low“ ′prime″", "\"Quote\" 'low' \"low\" 'prime\""),
    ("Wait…", "Wait..."),  # ellipsis
    ("• item one", "- item one"),  # bullets
    ("non\u00a0breaking\u2009thin", "non breaking thin"),
    ("zero\u200bwidth\u200c\u200djoin\ufeff", "zerowidthjoin"),
    ("soft\u00adhyphen", "softhyphen"),
    ("gov-\nernment policy", "government policy"),
    ("a line\r\nand the next", "a line and the next"),
    ("Updated 10:32", "Updated 09:15"),
    ("Posted 2024-03-05 by Anna", "Posted 2023-11-30 by Anna"),
    ("Page 1 of 3", "Page 2 of 3"),  # pinned: page counters are boilerplate, digits fold
    ("Straße", "STRASSE"),  # full case folding
    ("Ελλάδα", "ΕΛΛΑΔΑ"),
    ("café", "cafe\u0301"),  # precomposed vs combining accent
    ("Updated ١٠:٣٢", "Updated 10:32"),  # every Unicode digit folds
    ("Россия", "Poccия"),  # mixed-script spoof (Latin P, o, c) matches the Cyrillic word
    ("🔥 Breaking: “Deal” reached!", "Breaking - \"Deal\" reached"),  # symbols are dropped
]


@pytest.mark.parametrize(("a", "b"), SAME)
def test_same_key(a: str, b: str) -> None:
    assert normalize(a) == normalize(b)


DIFFERENT = [
    ("| 2019 | 1,234 | 5.6 |", "| 2020 | 2,345 | 6.7 |"),  # the datatrove trap
    ("2019\t1234\t5.6", "2020\t2345\t6.7"),
    ("Germany  83.2  357,022", "Germany  84.1  357,100"),
    ("| Revenue | 1,234 | 1,100 |", "| Revenue | 2,000 | 1,900 |"),  # label + two figures
    ("North Korea", "South Korea"),
    ("modem", "rnodern"),  # OCR slips are left to the fuzzy match, not folded here
    ("l1", "11"),
    ("が", "か"),  # kana voicing mark is part of the letter
    ("ɑpple", "apple"),  # Latin look-alikes are not folded (only other scripts are)
]


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_different_key(a: str, b: str) -> None:
    assert normalize(a) != normalize(b)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("NORTH KOREA’S", "north korea s"),
        ("Lipavský", "lipavsky"),
        ("gov-\nernment", "government"),
        ("gov-  \r\n  ernment", "government"),
        ("gov\u00ad\nernment", "government"),
        ("well-known", "well known"),  # a hyphen inside a line is punctuation, not joined
        ("page 3-\n4", "page 0 0"),  # not between letters: not joined
        ("ＡＢＣ", "abc"),
        ("Updated 10:32", "updated 00 00"),
        ("| 2019 | 1,234 | 5.6 |", "2019 1 234 5 6"),
        ("Updated 10:32\n| 2019 | 1,234 |", "updated 00 00 2019 1 234"),  # per line
        ("  \n\t ", ""),
        ("", ""),
        ("हिन्दी", "हिन्दी"),  # Devanagari marks kept
        ("שָׁלוֹם", "שלום"),  # Hebrew points dropped
    ],
)
def test_exact_key(text: str, key: str) -> None:
    assert normalize(text) == key


@pytest.mark.parametrize(
    "text",
    [
        "| 2019 | 1,234 | 5.6 |",
        "2019\t1234\t5.6",
        "83.2  357,022",
        "+1 555 123 4567",
        "| Alice | 34 | 5.6 |",
        "Q3: 12.5% / 13.1%",
    ],
)
def test_is_tabular(text: str) -> None:
    assert is_tabular(text)


@pytest.mark.parametrize(
    "text",
    ["Updated 10:32", "Page 1 of 3", "3 comments", "Posted 2024-03-05 by Anna", "© 2019–2024",
     "Score 1,234.5 points", "", "no digits at all", "10h32"],
)
def test_is_not_tabular(text: str) -> None:
    assert not is_tabular(text)


# Each step switched off: a pair that matches with every step on and differs without the step.
STEP_PAIRS = {
    "nfkc": ("ＡＢＣ", "ABC"),  # (casefold alone already turns "ﬁ" into "fi")
    "casefold": ("NORTH KOREA", "north korea"),
    "strip_accents": ("Lipavský", "Lipavsky"),
    "confusables": ("Nоrth Kоrеа", "North Korea"),
    "punctuation": ("North Korea’s", "North Korea's"),
    "dehyphenate": ("gov-\nernment", "government"),
    "digits": ("Updated 10:32", "Updated 09:15"),
    "whitespace": ("Soldiers  march", "Soldiers march"),
}


def test_step_pairs_cover_every_step() -> None:
    assert set(STEP_PAIRS) == set(NORMALIZE_STEPS) == set(STEP_FUNCTIONS)


@pytest.mark.parametrize("step", NORMALIZE_STEPS)
def test_each_step_can_be_switched_off(step: str) -> None:
    a, b = STEP_PAIRS[step]
    assert normalize(a) == normalize(b)
    assert normalize(a, without(step)) != normalize(b, without(step))


def test_no_steps_is_identity() -> None:
    text = "  NORTH KOREA’S ﬁnance\u200b 10:32\n"
    assert normalize(text, ()) == text


def test_confusables_without_casefold_keep_case() -> None:
    steps = without("casefold")
    assert normalize("Nоrth KОRЕА", steps) == "North KOREA"
    assert normalize("Іran", steps) == "Iran"  # Cyrillic І: Unicode's prototype is "l"


def test_confusables_rules() -> None:
    table = nz._confusable_map(True)
    assert all(not chr(cp).isascii() for cp in table)  # ASCII never folded
    assert all(len(v) == 1 and v.isascii() and v.isalnum() for v in table.values())
    assert ord("з") not in table and ord("З") not in table  # letter -> digit skipped
    assert ord("б") not in table
    assert step_confusables("Nоrth") == "North"
    assert normalize("ο") == "o"  # Greek omicron


def test_order_and_validation() -> None:
    assert normalizer(("casefold", "nfkc")) is normalizer(("nfkc", "casefold"))
    assert normalizer(ALL) is normalizer(ALL)
    assert normalize("ＡＢＣ", ("casefold", "nfkc")) == "abc"
    with pytest.raises(ValueError, match="unknown normalize step"):
        normalizer(("nfkc", "stem"))


def test_step_functions() -> None:
    assert step_nfkc("ﬁ") == "fi"
    assert step_casefold("ẞ") == "ss"
    assert step_strip_accents("Lipavský") == "Lipavsky"
    assert step_punctuation("a’b—c") == "a b c"
    assert step_dehyphenate("gov-\nernment") == "government"
    assert step_digits("Updated 10:32\n| 1 | 2 |") == "Updated 00:00\n| 1 | 2 |"
    assert step_whitespace(" a \u200b\n\u00a0b ") == "a b"


def test_normalize_many_examples() -> None:
    texts = [a for pair in SAME for a in pair] + ["", "x\x00y", "  ", "| 1 | 2 |"]
    assert normalize_many(texts) == [normalize(t) for t in texts]
    assert normalize_many([]) == []
    assert normalize_many(["x\x00y", "a"]) == [normalize("x\x00y"), "a"]


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

#: Characters that exercise the interactions between steps.
SPECIAL = (
    "0123456789٣५.,:/'-|\t\n\r\x0b\x0c\x1c\x85\u2028\u2029 \u00a0\u3000"
    "\u200b\u200c\u200d\ufeff\u00ad\u2010\u2011–—’“”…•"
    "aAeEzZßİıǰΐΣσςΑαΟοОоЕеТтЗзІі\u0301\u0308\u0345\u093c\u0941\u09c7\u09be"
    "\u1100\u1161\u11a8가ᄀﬁＡ１²①½㎏ꭰᎠ\U0001d400\U0001f600\ue000\ufdd0\x00\x07"
)
special_text = st.text(alphabet=st.sampled_from(SPECIAL), max_size=40)
unicode_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=60)
any_text = st.one_of(special_text, unicode_text, st.lists(
    st.one_of(special_text, unicode_text), max_size=4).map("".join))
step_sets = st.lists(st.sampled_from(NORMALIZE_STEPS), unique=True).map(tuple)


@contextlib.contextmanager
def forced(**values: float) -> Iterator[None]:
    """Temporarily change module thresholds so every code path (NumPy, pieces) runs."""
    old = {name: getattr(nz, name) for name in values}
    try:
        for name, value in values.items():
            setattr(nz, name, value)
        yield
    finally:
        for name, value in old.items():
            setattr(nz, name, value)


PATHS: list[dict[str, float]] = [
    {},
    {"_NUMPY_MIN_CHARS": 1, "_SHORT_CHARS": 0, "_SPARSE_SHARE": 1e9},  # NumPy scan, by runs
    {"_NUMPY_MIN_CHARS": 1, "_SHORT_CHARS": 0, "_SPARSE_SHARE": 0},  # NumPy lookup, whole
    {"_NUMPY_MIN_CHARS": 10**9, "_SHORT_CHARS": 10**9},  # str.translate, whole string
    {"_BATCH_CHARS": 7},  # many small batches
]

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(any_text)
def test_idempotent(text: str) -> None:
    key = normalize(text)
    assert normalize(key) == key


@SETTINGS
@given(st.lists(any_text, max_size=8), step_sets, st.sampled_from(range(len(PATHS))))
def test_many_equals_one_by_one(texts: list[str], steps: tuple[str, ...], path: int) -> None:
    expected = [normalize(t, steps) for t in texts]
    with forced(**PATHS[path]):
        assert normalize_many(texts, steps) == expected
        assert [normalize(t, steps) for t in texts] == expected


@functools.cache
def _cf_deletions() -> dict[int, None]:
    return {cp: None for cp in range(0x110000) if unicodedata.category(chr(cp)) == "Cf"}


def reference(text: str, steps: tuple[str, ...]) -> str:
    """The steps applied one after the other, in the documented effective order."""
    on = set(steps)
    if "dehyphenate" in on:
        text = step_dehyphenate(text)
    if "whitespace" in on:
        text = text.translate(_cf_deletions())
    if "nfkc" in on:
        text = step_nfkc(text)
    if "casefold" in on:
        text = step_casefold(text)
    if "strip_accents" in on:
        text = step_strip_accents(text)
    if "confusables" in on:
        text = step_confusables(text, fold_case="casefold" in on)
    if "digits" in on:
        text = step_digits(text)
    if "punctuation" in on:
        text = step_punctuation(text)
    if "whitespace" in on:
        text = step_whitespace(text)
    return text


@SETTINGS
@given(any_text, step_sets, st.sampled_from(range(len(PATHS))))
def test_fused_pipeline_equals_reference(text: str, steps: tuple[str, ...], path: int) -> None:
    with forced(**PATHS[path]):
        assert normalize(text, steps) == reference(text, steps)


surrogate_text = st.lists(
    st.one_of(any_text, st.integers(0xD800, 0xDFFF).map(chr)), max_size=6
).map("".join)


@settings(max_examples=200, deadline=None)
@given(surrogate_text, step_sets)
def test_never_raises(text: str, steps: tuple[str, ...]) -> None:
    assert isinstance(normalize(text, steps), str)
    assert normalize_many([text, text], steps) == [normalize(text, steps)] * 2
    assert isinstance(is_tabular(text), bool)


def test_idempotent_on_every_code_point_sample() -> None:
    """Every assigned code point alone and next to a letter and a combining mark."""
    norm = normalizer(ALL)
    for cp in [*range(0, 0x32000, 3), *range(0xE0000, 0xE0200)]:
        if 0xD800 <= cp < 0xE000:
            continue
        for text in (chr(cp), "A" + chr(cp) + "\u0301"):
            key = norm(text)
            assert norm(key) == key, (hex(cp), text, key)


def test_large_batch_uses_numpy_path_consistently() -> None:
    lines = ["Россия — «страна» №1 10:32", "| 2019 | 1,234 | 5.6 |", "Ελλάδα’s café…"] * 3000
    keys = normalize_many(lines)
    assert keys[:3] == [normalize(t) for t in lines[:3]]
    assert keys == keys[:3] * 3000
    assert normalize("\n".join(lines)) == " ".join(keys)
