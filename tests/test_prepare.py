"""Pass one batched over a chunk equals pass one per document; the local-repeat fast path
equals the plain keep-first loop."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from benchmarks.corpus import Generator
from dedupe.config import Config
from dedupe.model import Document
from dedupe.prepare import Prepared, find_local_repeats, prepare, prepare_many


def _documents(n: int) -> list[Document]:
    gen = Generator(seed=7)
    docs = [gen.document()["text"] for _ in range(n)]
    docs += ["", "\n\n   \n", "x" * 300, "TT\nTT\ntt", "Short\nShort line\nShort",
             "Follow us\n\nFollow us\n\nA paragraph that is long enough to be a long unit\n"
             "and runs on.\n\nA paragraph that is long enough to be a long unit\nand runs on."]
    out = [Document(id=str(i), text=t, ordinal=i) for i, t in enumerate(docs)]
    out.append(Document(id="bad", text="raw", ordinal=len(out), error="malformed JSON"))
    return out


def _same(a: Prepared, b: Prepared) -> None:
    for f in dataclasses.fields(Prepared):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y), f.name
        else:
            assert x == y, f.name


@pytest.mark.parametrize("config", [
    Config(), Config(unit="paragraph"), Config(max_unit_chars=200, max_document_chars=5000),
    Config(unit_threshold=0.5, short_unit_threshold=0.8, shingle_size=4),
], ids=["default", "paragraph", "limits", "noisy"])
def test_chunk_equals_one_document_at_a_time(config: Config) -> None:
    docs = _documents(120)
    batched = prepare_many(docs, config)
    assert len(batched) == len(docs)
    for doc, p in zip(docs, batched, strict=True):
        _same(p, prepare(doc, config))


def test_local_repeat_fast_path_equals_plain_loop() -> None:
    config = Config()
    repeats = 0
    for p in prepare_many(_documents(200), config):
        if p.passed is not None:
            continue
        plain = dataclasses.replace(p)
        find_local_repeats(plain, config)  # every unit through the indexes
        assert (p.local_first, p.local_similarity) == (plain.local_first, plain.local_similarity)
        repeats += sum(1 for i, f in enumerate(p.local_first) if f != i)
    assert repeats > 100  # the corpus does exercise the repeats (headlines, captions)
