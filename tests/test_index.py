"""Candidate search: bulk band keys give MinHashLSH's candidates; verification decides."""

from __future__ import annotations

import numpy as np
import pytest
from datasketch import MinHashLSH

from dedupe.fingerprint import shingle_sets, signatures, to_minhash
from dedupe.index import LongIndex, Match, ShortIndex, band_keys, edit_similarity, lsh_params

WORDS = ["storm", "coast", "harbour", "road", "power", "homes", "frost", "apricot", "valley",
         "bridge", "canal", "steel", "welders", "council", "shelter", "families", "market"]


def corpus(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    base = [" ".join(rng.choice(WORDS, size=12)) for _ in range(n // 2)]
    noisy = [t[: len(t) // 2] + "x" + t[len(t) // 2 + 1 :] for t in base]  # one-letter edits
    return base + noisy


def test_band_keys_give_the_same_candidates_as_minhashlsh() -> None:
    texts = corpus(120, 7)
    hashes, offsets = shingle_sets(texts, 5)
    sigs = signatures(hashes, offsets, 128, 1)
    for threshold in (0.5, 0.7, 0.9):
        b, r = lsh_params(threshold, 128)
        lsh = MinHashLSH(threshold=threshold, num_perm=128)
        for i in range(len(texts)):
            lsh.insert(i, to_minhash(sigs[i], 1))
        keys = band_keys(sigs, b, r)
        for i in range(len(texts)):
            expected = set(lsh.query(to_minhash(sigs[i], 1)))
            ours = {j for j in range(len(texts)) if np.any(keys[j] == keys[i])}
            assert ours == expected, (threshold, i)


def test_long_index_verifies_and_prefers_most_similar_then_earliest() -> None:
    texts = ["the storm reached the coast at dawn", "the storm reached the coast at dusk",
             "the storm reached the coast at dawn!", "completely different words entirely"]
    hashes, offsets = shingle_sets(texts, 5)
    sigs = signatures(hashes, offsets, 128, 1)
    b, r = lsh_params(0.6, 128)
    keys = band_keys(sigs, b, r)
    sets = [hashes[offsets[i] : offsets[i + 1]] for i in range(4)]
    index = LongIndex(0.6)
    index.add("dusk", keys[1], sets[1])
    index.add("dawn", keys[0], sets[0])
    match = index.find(keys[2], sets[2])
    assert match is not None and match.leader == "dawn" and match.similarity > 0.8
    assert index.find(keys[3], sets[3]) is None


def test_long_index_without_sets_answers_through_its_verification_only() -> None:
    """An index that keeps no shingle sets (a run's document index) still finds what its
    verification accepts, and refuses a lookup that would read the sets it does not have."""
    texts = corpus(40, 3)
    hashes, offsets = shingle_sets(texts, 5)
    keys = band_keys(signatures(hashes, offsets, 128, 1), *lsh_params(0.5, 128))
    sets = [hashes[offsets[i] : offsets[i + 1]] for i in range(len(texts))]
    index = LongIndex(0.5)
    index.keep_sets, index.verify_reads_jaccard = False, False
    index.verify = lambda item, leader, jaccard: 0.9 if leader == 0 else None
    kept = LongIndex(0.5)
    for i in range(20):
        index.add(i, keys[i], sets[i])
        kept.add(i, keys[i], sets[i])
    assert kept.nbytes - index.nbytes == sum(s.nbytes for s in sets[:20])
    assert index.find(keys[20], sets[20]) == Match(0, 0.9)  # text 20 is text 0, noisy
    index.verify_reads_jaccard = True
    with pytest.raises(RuntimeError, match="not kept"):
        index.find(keys[20], sets[20])


def test_short_index_exact_then_edit_similarity() -> None:
    index = ShortIndex(0.8)
    index.add(0, "follow us on twitter")
    index.add(1, "tt")
    m = index.find("tt")
    assert m is not None and (m.leader, m.similarity) == (1, 1.0)
    m = index.find("folow us on twiter")
    assert m is not None and m.leader == 0 and m.similarity >= 0.9
    assert index.find("subscribe today") is None
    assert edit_similarity("abc", "abc") == 1.0
