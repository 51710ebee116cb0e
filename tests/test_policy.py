"""The keep-first decisions, one policy at a time, on small hand-made documents."""

from __future__ import annotations

import random
import string

from dedupe import Config, clean
from dedupe.model import Result
from dedupe.policy import Cluster

BODY_A = ("The river flooded the lower town after three days of rain, and the council opened "
          "the school gym as a shelter for families who lost their homes.")
BODY_B = ("Farmers in the valley say the late frost destroyed most of the apricot blossoms, "
          "which means a small harvest and higher prices at the market this summer.")
BODY_C = ("A new bridge over the canal will open next spring, the transport office said, "
          "after two years of delays caused by a shortage of steel and skilled welders.")


def reasons(result: Result) -> list[tuple[str, str]]:
    return [(r.reason, r.text) for r in result.removals]


def test_repeated_headline_and_caption_keep_first() -> None:
    doc = "\n".join(["Big Flood Hits Town", "Rescuers carry a child through water (AP)",
                     "Rescuers carry a child through water (AP)", "BIG FLOOD HITS TOWN", BODY_A])
    (result,) = clean([doc])
    assert result.text == "\n".join(["Big Flood Hits Town",
                                     "Rescuers carry a child through water (AP)", BODY_A])
    roles = [(r.reason, r.role) for r in result.removals]
    assert roles == [("repeated_in_document", "caption"), ("repeated_in_document", "headline")]


def test_boilerplate_in_two_documents_drops_every_copy() -> None:
    docs = [f"Follow us on Facebook\n{BODY_A}", f"{BODY_B}\nFollow us on Facebook"]
    results = list(clean(docs))
    assert [r.text for r in results] == [BODY_A, BODY_B]
    records = [r for res in results for r in res.removals]
    assert [(r.reason, r.doc_count) for r in records] == [("boilerplate", 2)] * 2
    assert records[1].duplicate_of is not None and records[1].duplicate_of.doc_id == "0"


def test_boilerplate_threshold_is_configurable() -> None:
    docs = [f"Follow us on Facebook\n{BODY_A}", f"{BODY_B}\nFollow us on Facebook"]
    results = list(clean(docs, Config(boilerplate_min_docs=3)))
    # below the count: the short line is duplicated content, its first copy survives
    assert results[0].text == f"Follow us on Facebook\n{BODY_A}"
    assert reasons(results[1]) == [("duplicated_content", "Follow us on Facebook")]


def test_long_unit_across_documents_keeps_first_copy() -> None:
    docs = [f"{BODY_A}\n{BODY_C}", f"{BODY_B}\n{BODY_C}"]
    results = list(clean(docs))
    assert results[0].text == f"{BODY_A}\n{BODY_C}"
    assert results[1].text == BODY_B
    (removal,) = results[1].removals
    assert removal.reason == "duplicated_content" and removal.duplicate_of is not None
    assert removal.duplicate_of.doc_id == "0" and removal.duplicate_of.position == 2


def test_near_duplicate_document_dropped_with_pointer() -> None:
    copy = BODY_A.replace("flooded", "floded") + "\n" + BODY_B
    results = list(clean([f"{BODY_A}\n{BODY_B}", copy]))
    assert results[1].text is None
    (removal,) = results[1].removals
    assert removal.reason == "near_duplicate_document"
    assert removal.duplicate_of is not None and removal.duplicate_of.doc_id == "0"
    assert removal.similarity is not None and 0.8 <= removal.similarity < 1.0


def test_no_chains_keep_first() -> None:
    # A~B and B~C but A and C are dissimilar: only B is dropped, C survives.
    rng = random.Random(3)
    words = ["".join(rng.choice(string.ascii_lowercase) for _ in range(6)) for _ in range(60)]
    a = " ".join(words[:40])
    b = " ".join(words[10:50])
    c = " ".join(words[20:60])
    cfg = Config(document_threshold=0.5, unit_threshold=0.5)
    results = list(clean([a, b, c], cfg))
    assert [r.text is None for r in results] == [False, True, False]


def test_document_left_empty_is_dropped_with_record() -> None:
    results = list(clean([f"TT\n{BODY_A}", "TT", f"TT\n{BODY_B}"]))
    assert results[1].text is None
    assert [r.reason for r in results[1].removals] == ["boilerplate", "empty_after_cleaning"]


def test_policies_can_be_switched_off() -> None:
    doc = f"Headline here\nHeadline here\n{BODY_A}"
    (kept,) = clean([doc], Config(drop_repeated_in_document=False))
    assert kept.text == doc and kept.removals == ()


def test_group_scopes_boilerplate() -> None:
    docs = [{"id": "1", "text": f"Subscribe now\n{BODY_A}", "host": "a.com"},
            {"id": "2", "text": f"Subscribe now\n{BODY_B}", "host": "b.com"},
            {"id": "3", "text": f"Subscribe now\n{BODY_C}", "host": "a.com"}]
    results = list(clean(docs, Config(group_field="host")))
    assert [r.reason for r in results[0].removals] == ["boilerplate"]
    # in b.com the line was seen once: kept as content duplicated from a.com
    assert [r.reason for r in results[1].removals] == ["duplicated_content"]
    assert [r.reason for r in results[2].removals] == ["boilerplate"]


def test_cluster_counts_each_document_once_per_group() -> None:
    """Two units of one document in one cluster count that document once; counts stored by
    an earlier run add to this run's; the leader's length stands in for its text."""
    cluster = Cluster(0, "a", 0, "", chars=5)
    for group, ordinal in [("x", 1), ("x", 1), ("x", 4), ("y", 4), (None, 9)]:
        cluster.add_document(group, ordinal)
    assert [cluster.doc_count(g) for g in ("x", "y", None, "z")] == [2, 1, 1, 0]
    assert cluster.counts() == {"x": 2, "y": 1, None: 1}
    assert list(cluster.counts()) == ["x", "y", None]  # in the order the groups came
    assert cluster.documents() == {1, 4, 9}
    assert cluster.leader_chars == 5
    empty = Cluster(0, "a", 0, "")
    assert (empty.doc_count(None), empty.counts(), empty.documents()) == (0, {}, set())
    cluster.earlier = {"x": 3}
    assert cluster.doc_count("x") == 5
    assert Cluster(0, "a", 0, "four").leader_chars == 4
