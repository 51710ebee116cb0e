"""dedupe.verify's bulk bound: never below the edit similarity it stands in for."""

from __future__ import annotations

import random

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from rapidfuzz.distance import Indel

from dedupe.verify import char_histograms, edit_similarity, edit_similarity_bounds

# Letters that fall into the same class (code point modulo 32) and beyond one byte of counts.
_ALPHABET = "abcdeABCDE !é€\U0001f600\ud800" + chr(97 + 32) + chr(97 + 64)


def _bounds(a: list[str], b: list[str]) -> np.ndarray:
    return edit_similarity_bounds(char_histograms(a), np.array([len(x) for x in a]),
                                  char_histograms(b), np.array([len(x) for x in b]))


@given(st.lists(st.tuples(st.text(_ALPHABET, max_size=300), st.text(_ALPHABET, max_size=300)),
                min_size=1, max_size=20))
def test_the_bound_is_never_below_the_edit_similarity(pairs: list[tuple[str, str]]) -> None:
    a, b = [x for x, _ in pairs], [y for _, y in pairs]
    for bound, x, y in zip(_bounds(a, b).tolist(), a, b, strict=True):
        assert bound >= Indel.normalized_similarity(x, y) - 1e-12


def test_the_bound_keeps_noisy_copies_and_rules_out_unrelated_lines() -> None:
    rng = random.Random(4)
    words = ["river", "council", "shelter", "market", "harvest", "bridge", "steel", "winter",
             "orchestra", "square", "frost", "valley", "hospital", "beds", "families"]
    lines = [" ".join(rng.choice(words) for _ in range(14)) for _ in range(200)]
    copies = []
    for line in lines:  # two typos per copy
        chars = list(line)
        for _ in range(2):
            chars[rng.randrange(len(chars))] = rng.choice("abcdefghij")
        copies.append("".join(chars))
    copy_bounds = _bounds(lines, copies)
    assert all(edit_similarity(x, y) >= 0.9 for x, y in zip(lines, copies, strict=True))
    assert (copy_bounds >= 0.9).all()  # a copy always reaches rapidfuzz
    unrelated = _bounds(lines, lines[1:] + lines[:1])
    assert (unrelated < 0.9).mean() > 0.5  # most unrelated lines of one vocabulary do not


def test_histograms_count_each_character_once_in_its_class() -> None:
    hists = char_histograms(["", "aa", "a" * 300, "a" + chr(97 + 32)])
    assert hists.shape == (4, 32)
    assert hists[0].sum() == 0
    assert hists[1, 97 % 32] == 2
    assert hists[2, 97 % 32] == 255  # saturates: the bound only loosens
    assert hists[3, 97 % 32] == 2  # one class for both
