"""The decide phase's bulk shortcuts give the per-item answers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from benchmarks.corpus import Generator
from dedupe.config import Config, preset
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
        items = list(decider._item_keys)
        fast = find_many(keys, sets)
        slow = []
        for n in range(len(sets)):
            decider._item_keys = [items[n]]
            slow.append(find_many(keys[n : n + 1], [sets[n]])[0])  # find(), unwrapped
        decider._item_keys = items
        assert fast == slow
        compared += len(sets)
        return fast

    decider.long_units.find_many = both  # type: ignore[method-assign]
    for p in prepare_many(_documents(300), config):
        decider.observe(p)
    assert compared > 1000


@pytest.mark.parametrize("name", ["default", "noisy"])
def test_batched_placement_equals_one_by_one(name: str) -> None:
    """observe_many places every document as observe does one by one: same placements, same
    clusters with the same documents, including units that match a cluster made by an
    earlier document of the same batch."""
    config = (Config() if name == "default" else preset(name)).replace(group_field="host")
    prepared = prepare_many(_documents(300), config)
    one, many = Decider(config), Decider(config)
    expected = [one.observe(p) for p in prepared]
    inside = 0
    batch_pairs = many._batch_pairs

    def counted(*args: Any) -> dict[int, list[tuple[int, float]]]:
        nonlocal inside
        out = batch_pairs(*args)
        inside += len(out)
        return out

    many._batch_pairs = counted  # type: ignore[method-assign]
    got = [placement for start in range(0, len(prepared), 16)
           for placement in many.observe_many(prepared[start : start + 16])]
    assert got == expected
    assert [(c.leader_ordinal, c.leader_position, c.key, c.counts()) for c in many.clusters] == [
        (c.leader_ordinal, c.leader_position, c.key, c.counts()) for c in one.clusters]
    assert inside > 20  # matches within a batch were made, and equal the one-by-one answers
    assert sum(p.duplicate_of is not None for p in expected) > 0
