"""The persistent index backends (dedupe.store): settings, atomic commits, locking, integrity.

Every test runs on SQLite and on a real Redis (marked ``redis``). The Redis server is the one
``.ci/run`` starts (``DEDUPE_TEST_REDIS``); outside CI a throwaway ``redis-server`` is started
when the binary exists, else the Redis tests are skipped, never under ``CI=true``. Each test
uses its own key prefix and deletes its keys afterwards.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

from dedupe import Config, Document, clean
from dedupe.config import FIELD_NAMES
from dedupe.index import lsh_params
from dedupe.store import IndexStore, SettingsMismatch, StoreError, open_index
from dedupe.store.base import Meta

BOILERPLATE = "Follow us on Facebook"
BODY = ("The council approved the budget for the new library after a long debate about the "
        "cost of heating the old building through the winter months.")


# --- Redis for the tests -------------------------------------------------------------------------


def _ping(url: str, timeout: float) -> bool:
    import redis

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if redis.Redis.from_url(url, socket_connect_timeout=1).ping():
                return True
        except redis.exceptions.RedisError:
            time.sleep(0.05)
    return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """A Redis URL: DEDUPE_TEST_REDIS, else a throwaway server, else skip (never in CI)."""
    url = os.environ.get("DEDUPE_TEST_REDIS")
    if url:
        if not _ping(url, 10):
            pytest.fail(f"DEDUPE_TEST_REDIS={url} does not answer PING")
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but DEDUPE_TEST_REDIS is unset and redis-server is not installed")
        pytest.skip("no Redis: set DEDUPE_TEST_REDIS=redis://host:port/db or install redis-server")
    port = _free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        if not _ping(url, 10):
            pytest.fail(f"could not start redis-server on port {port}")
        yield url
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """The test's own index on the server: a fresh key prefix, deleted afterwards."""
    from dedupe.store.redis_index import RedisIndex

    joiner = "&" if "?" in redis_server else "?"
    url = f"{redis_server}{joiner}prefix=dedupe-test-{uuid.uuid4().hex[:12]}"
    yield url
    index = RedisIndex(url)
    index.clear()
    index.close()


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def index_spec(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> str:
    """An index that does not exist yet, on each backend."""
    if request.param == "sqlite":
        return os.path.join(tmp_path, "index.db")
    return str(request.getfixturevalue("redis_url"))


# --- helpers ---------------------------------------------------------------------------------


STORIES = [
    "Farmers say the late frost destroyed most of the apricot blossoms in the valley this spring.",
    "The museum reopened its east wing after three years of repairs to the leaking glass roof.",
    "A local swimmer broke the regional record for the long distance race across the bay.",
    "Residents complained that the new parking rules drove customers away from the old square.",
    "The ferry company added an evening crossing to the island during the summer festival.",
    "Engineers found cracks in two pillars of the railway bridge during a routine inspection.",
]


def docs(*texts: str, prefix: str = "d") -> list[Document]:
    return [Document(id=f"{prefix}{i}", text=t, source="<test>") for i, t in enumerate(texts)]


def add(spec: str, documents: list[Document], config: Config | None = None) -> list[object]:
    """Clean `documents` against the index and commit; the results as comparable tuples."""
    config = config or Config(workers=1)
    with open_index(spec, create=True) as index, index.begin(config) as run:
        results = [(r.id, r.text, [x.as_dict() for x in r.removals])
                   for r in clean(documents, config, index=run)]
        run.commit(["<test>"])
    return results


def checksum(spec: str) -> str:
    with open_index(spec) as index:
        return index.checksum()


def first_batch() -> list[Document]:
    return docs(f"Budget approved\n{BOILERPLATE}\n{BODY}", prefix="a")


# --- settings ----------------------------------------------------------------------------------


CHANGES = [
    {"unit_threshold": 0.8}, {"document_threshold": 0.9}, {"short_unit_threshold": 0.8},
    {"shingle_size": 4}, {"num_perm": 64}, {"seed": 2}, {"unit": "paragraph"},
    {"normalize_steps": ("casefold",)}, {"short_unit_chars": 20},
    {"boilerplate_max_chars": 80}, {"group_field": "host"}, {"candidate_threshold": 0.4},
    {"unit_edit_threshold": 0.95}, {"word_veto": False}, {"word_tolerance": 0.2},
]


@pytest.mark.parametrize("change", [c for c in CHANGES if set(c) <= FIELD_NAMES])
def test_a_run_with_incomparable_settings_is_refused(index_spec: str,
                                                     change: dict[str, object]) -> None:
    add(index_spec, first_batch())
    before = checksum(index_spec)
    config = Config(workers=1).replace(**change)
    with open_index(index_spec) as index, pytest.raises(SettingsMismatch) as refused:
        index.begin(config)
    message = str(refused.value)
    assert "\n" not in message and next(iter(change)) in message and "index" in message
    assert checksum(index_spec) == before


def test_policy_options_may_change_between_runs(index_spec: str) -> None:
    add(index_spec, first_batch())
    config = Config(workers=1, boilerplate_min_docs=3, drop_duplicated_content=False)
    add(index_spec, docs(f"Other news\n{BOILERPLATE}"), config)


def test_an_index_made_by_other_fingerprint_code_is_refused(index_spec: str) -> None:
    add(index_spec, first_batch())
    with open_index(index_spec) as index:
        meta = index.read_meta()
        assert meta is not None
        meta.probe = "0" * 32  # as if normalization or hashing had changed since
        _rewrite_meta(index, meta)
    with open_index(index_spec) as index, pytest.raises(SettingsMismatch, match="rebuild"):
        index.begin(Config(workers=1))


def _rewrite_meta(index: IndexStore, meta: Meta) -> None:
    if index.kind == "sqlite":
        db: sqlite3.Connection = index._db  # type: ignore[attr-defined]
        db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                       meta.as_strings().items())
    else:
        index._r.hset(index._key("meta"), mapping=meta.as_strings())  # type: ignore[attr-defined]


def test_the_settings_are_recorded(index_spec: str) -> None:
    config = Config(workers=1, unit_threshold=0.75)
    add(index_spec, first_batch(), config)
    with open_index(index_spec) as index:
        meta = index.read_meta()
    assert meta is not None
    assert meta.settings["unit_threshold"] == 0.75
    assert meta.settings["shingle_size"] == 5
    assert meta.settings["normalize_steps"] == list(config.normalize_steps)
    lsh = getattr(config, "unit_lsh_threshold", config.unit_threshold)  # the candidate level
    assert meta.settings["unit_bands"] == list(lsh_params(lsh, 128))  # datasketch's choice


# --- runs --------------------------------------------------------------------------------------


def test_read_only_needs_an_existing_index(index_spec: str) -> None:
    with open_index(index_spec, create=True) as index, pytest.raises(StoreError, match="no index"):
        index.begin(Config(workers=1), read_only=True)
    if "://" not in index_spec:
        with pytest.raises(StoreError, match="no index there"):
            open_index(index_spec + ".missing")


def test_a_read_only_run_changes_nothing(index_spec: str) -> None:
    add(index_spec, first_batch())
    before = checksum(index_spec)
    config = Config(workers=1)
    with open_index(index_spec) as index, index.begin(config, read_only=True) as run:
        results = list(clean(docs(f"Later\n{BOILERPLATE}\n{BODY}!"), config, index=run))
        with pytest.raises(RuntimeError):
            run.commit()
    assert [r.reason for r in results[0].removals] == ["near_duplicate_document"]
    assert checksum(index_spec) == before


def test_a_failure_inside_the_commit_writes_nothing(index_spec: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    add(index_spec, first_batch())
    before = checksum(index_spec)

    def broken(self: Meta) -> dict[str, str]:
        raise RuntimeError("disk on fire")

    config = Config(workers=1)
    with open_index(index_spec) as index:
        with index.begin(config) as run:
            list(clean(docs("Second story\n" + BODY.replace("library", "museum"), prefix="b"),
                       config, index=run))
            monkeypatch.setattr(Meta, "as_strings", broken)
            with pytest.raises(RuntimeError, match="disk on fire"):
                run.commit()
        monkeypatch.undo()
        assert index.checksum() == before
    add(index_spec, docs("Third story\n" + BODY.replace("library", "pool"), prefix="c"))
    assert checksum(index_spec) != before  # the lock was released: the next writer commits


def test_one_writer_at_a_time_readers_meanwhile(index_spec: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import dedupe.store.sqlite_index as sqlite_index

    monkeypatch.setattr(sqlite_index, "LOCK_WAIT", 0.2)
    add(index_spec, first_batch())
    config = Config(workers=1)
    with open_index(index_spec) as first, first.begin(config), open_index(index_spec) as second:
        with pytest.raises(StoreError, match="another run is writing"):
            second.begin(config)
        with second.begin(config, read_only=True) as reader:
            result = next(iter(clean(first_batch(), config, index=reader)))
            assert result.removals[0].reason == "near_duplicate_document"


def test_audit_names_the_stored_document_and_position(index_spec: str) -> None:
    add(index_spec, first_batch())
    later = add(index_spec, docs(f"Weather today\n{BOILERPLATE}\nA new paragraph about the "
                                 "weather that nobody has written before today.", prefix="b"))
    (_, text, removals), = later
    assert text == ("Weather today\n"
                    "A new paragraph about the weather that nobody has written before today.")
    assert removals == [{
        "doc_id": "b0", "source": "<test>", "reason": "boilerplate", "position": 2,
        "text": BOILERPLATE, "duplicate_of": {"doc_id": "a0", "position": 2},
        "similarity": 1.0, "doc_count": 2}]
    again = add(index_spec, docs(f"{STORIES[0]} {STORIES[1]}\n{BODY}", f"Budget approved!\n{BODY}",
                                 prefix="c"))
    assert again[0][2][0]["reason"] == "duplicated_content"
    assert again[0][2][0]["duplicate_of"] == {"doc_id": "a0", "position": 3}
    assert again[1][2][0]["reason"] == "near_duplicate_document"
    assert again[1][2][0]["duplicate_of"] == {"doc_id": "a0"}


# --- integrity ---------------------------------------------------------------------------------


def test_verify_finds_damage_and_compact_repairs_orphans(index_spec: str) -> None:
    add(index_spec, first_batch())
    add(index_spec, docs(f"Other\n{BOILERPLATE}\nSomething else entirely, long enough to be "
                         "a long unit with band keys of its own.", prefix="b"))
    with open_index(index_spec) as index:
        assert index.verify() == []
        _drop_a_long_cluster(index)
        problems = index.verify()
        assert any("orphaned unit band" in p for p in problems)
        assert any("header counts" in p for p in problems)
        removed = index.compact()
        assert removed["unit bands"] > 0
        assert index.verify() == []


def _drop_a_long_cluster(index: IndexStore) -> None:
    if index.kind == "sqlite":
        db: sqlite3.Connection = index._db  # type: ignore[attr-defined]
        (cid,) = db.execute("SELECT max(id) FROM clusters WHERE short = 0").fetchone()
        db.execute("DELETE FROM clusters WHERE id = ?", (cid,))
        db.execute("DELETE FROM cluster_docs WHERE cluster = ?", (cid,))
    else:
        r = index._r  # type: ignore[attr-defined]
        cid = max(int(k) for k in r.hkeys(index._key("cs")))  # type: ignore[attr-defined]
        r.hdel(index._key("cm"), cid)  # type: ignore[attr-defined]


def test_stats_counts_and_top_boilerplate_per_group(index_spec: str) -> None:
    from dedupe.store import stats, stats_text

    config = Config(workers=1, group_field="host")
    footers = {"a.example": "Follow us on Mastodon", "b.example": "Subscribe to the weekly"}
    batch = [{"id": f"{host}{i}", "host": host, "text": f"{footers[host]}\n{story}"}
             for host in footers for i, story in enumerate(STORIES[:3] if host == "a.example"
                                                           else STORIES[3:])]
    with open_index(index_spec, create=True) as index:
        with index.begin(config) as run:
            list(clean(batch, config, index=run))
            run.commit(["batch"])
        info = stats(index, top=5)
    assert info["counts"]["document_leaders"] >= 2
    assert info["documents_seen"] == 6 and len(info["runs"]) == 1
    assert info["settings"]["group_field"] == "host"
    top = {entry["group"]: entry["units"] for entry in info["top_boilerplate"]}
    assert top["a.example"][0]["text"] == "Follow us on Mastodon"
    assert top["a.example"][0]["documents"] == 3
    assert top["b.example"][0]["documents"] == 3
    assert "Follow us on Mastodon" in stats_text(info)


def test_a_damaged_sqlite_file_is_reported_not_a_traceback(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "index.db")
    with open(path, "wb") as handle:
        handle.write(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="index"), open_index(path) as index:
        index.begin(Config(workers=1))


# --- Redis specifics ---------------------------------------------------------------------------


def test_redis_url_prefix_and_password_are_handled() -> None:
    from dedupe.store.redis_index import parse_url

    connect, prefix, shown = parse_url("redis://:secret@host:6379/2?prefix=news&ssl_cert_reqs=none")
    assert prefix == "news"
    assert connect == "redis://:secret@host:6379/2?ssl_cert_reqs=none"
    assert "secret" not in shown
    assert parse_url("redis://host/0")[1] == "dedupe"
    with pytest.raises(StoreError):
        parse_url("redis://host/0?prefix={bad}")


def test_an_unreachable_redis_is_one_line() -> None:
    with pytest.raises(StoreError, match="cannot connect") as failed:
        open_index(f"redis://127.0.0.1:{_free_port()}/0")
    assert "\n" not in str(failed.value)


@pytest.mark.redis
def test_redis_commit_fails_when_another_writer_committed_meanwhile(redis_url: str) -> None:
    add(redis_url, first_batch())
    config = Config(workers=1)
    with open_index(redis_url) as index, index.begin(config) as run:
        list(clean(docs("A story\n" + BODY.replace("library", "school"), prefix="b"), config,
                   index=run))
        index._lock.release()  # type: ignore[attr-defined]  # as if it had expired
        index._lock = None  # type: ignore[attr-defined]
        add(redis_url, docs("Another story\n" + BODY.replace("library", "station"), prefix="c"))
        between = checksum(redis_url)
        with pytest.raises(StoreError, match="another run committed"):
            run.commit()
    assert checksum(redis_url) == between
