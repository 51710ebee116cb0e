"""The decide phase's bulk shortcuts give the per-item answers."""

from __future__ import annotations

import numpy as np

from benchmarks.corpus import Generator
from dedupe.config import Config
from dedupe.index import Match
from dedupe.model import Document
from dedupe.policy import Decider
from dedupe.prepare import prepare_many


def _documents(n: int) -> list[Document]:
    gen = Generator(seed=11)
    out = []
    for i in range(n):
        record = gen.document()
        out.append(Document(id=record["id"], text=record["text"], group=record["host"],
                            ordinal=i))
    return out


def test_bulk_unit_verification_equals_the_per_pair_callback() -> None:
    config = Config(group_field="host")
    decider = Decider(config)
    bulk = decider._verify_units
    pairs = accepted = 0

    def both(items: np.ndarray, leaders: list, jaccards: np.ndarray) -> np.ndarray:
        nonlocal pairs, accepted
        fast = bulk(items, leaders, jaccards)
        slow = [decider._verify_unit(int(i), leader, float(j))
                for i, leader, j in zip(items.tolist(), leaders, jaccards.tolist(), strict=True)]
        assert [None if np.isnan(f) else f for f in fast.tolist()] == slow
        pairs += len(slow)
        accepted += sum(s is not None for s in slow)
        return fast

    decider.long_units.verify_many = both
    for p in prepare_many(_documents(400), config):
        decider.observe(p)
    assert pairs > 1000 and accepted > 50


def test_bulk_lookup_of_a_documents_units_equals_one_by_one() -> None:
    config = Config(group_field="host")
    decider = Decider(config)
    find_many = decider.long_units.find_many
    compared = 0

    def both(keys: np.ndarray, sets: list) -> list[Match | None]:
        nonlocal compared
        items = list(decider._items)
        fast = find_many(keys, sets)
        slow = []
        for n in range(len(sets)):
            decider._items = [items[n]]
            slow.append(find_many(keys[n : n + 1], [sets[n]])[0])  # find(), unwrapped
        decider._items = items
        assert fast == slow
        compared += len(sets)
        return fast

    decider.long_units.find_many = both  # type: ignore[method-assign]
    for p in prepare_many(_documents(300), config):
        decider.observe(p)
    assert compared > 1000
