"""dedupe.repair: same text as plain ftfy, ftfy's explanation, idempotence, and an exact fast path.

The reference below uses nothing but ftfy: ``fix_text``'s own segmentation loop (copied from
ftfy 6.3) with ``fix_and_explain`` on every segment, repeated until stable, and it checks each
pass against ``ftfy.fix_text`` itself. ``repair`` must agree with it on text and explanation.
"""

from __future__ import annotations

import random
import re
import string
import unicodedata
from pathlib import Path
from typing import Any

import ftfy
import pytest
from ftfy.badness import is_bad
from hypothesis import example, given
from hypothesis import strategies as st

from dedupe import repair as repair_module
from dedupe.repair import MAX_PASSES, Fix, ftfy_config, repair, repair_many

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
FIXTURE_NAMES = ("news_scrape.txt", "news_scrape.noisy.txt", "news_scrape.clean.txt")


# --- reference: plain ftfy, no fast path ---------------------------------------------------------


def _ftfy_pass(text: str, config: ftfy.TextFixerConfig) -> tuple[str, list[Fix]]:
    out: list[str] = []
    steps: list[Fix] = []
    pos = 0
    while pos < len(text):  # the loop of ftfy.fix_text, keeping each segment's explanation
        textbreak = text.find("\n", pos) + 1
        if textbreak == 0:
            textbreak = len(text)
        if (textbreak - pos) > config.max_decode_length:
            textbreak = pos + config.max_decode_length
        segment = text[pos:textbreak]
        if config.unescape_html == "auto" and "<" in segment:
            config = config._replace(unescape_html=False)
        fixed, explanation = ftfy.fix_and_explain(segment, config)
        if fixed != segment:
            steps.extend((a, p) for a, p in explanation or [])
        out.append(fixed)
        pos = textbreak
    return "".join(out), steps


def reference(text: str, uncurl_quotes: bool = False) -> tuple[str, tuple[Fix, ...]]:
    config = ftfy_config(uncurl_quotes)
    original, steps = text, []
    for _ in range(MAX_PASSES):
        fixed, pass_steps = _ftfy_pass(text, config)
        assert fixed == ftfy.fix_text(text, config)  # the copied loop is ftfy's
        if fixed == text:
            break
        steps += pass_steps
        text = fixed
    return (original, ()) if text == original else (text, tuple(steps))


def assert_like_ftfy(text: str) -> None:
    """repair == plain ftfy (both settings), and each fast-path "no change" verdict is right."""
    for uncurl in (False, True):
        assert repair(text, uncurl) == reference(text, uncurl), (uncurl, text[:200])
        config = ftfy_config(uncurl)
        if not repair_module._may_change(text, uncurl, entities=True, segment=False):
            assert ftfy.fix_text(text, config) == text
        for entities in (True, False):
            if not repair_module._may_change(text, uncurl, entities, segment=True):
                cfg = config if entities else config._replace(unescape_html=False)
                assert ftfy.fix_and_explain(text, cfg).text == text


# --- generated text ------------------------------------------------------------------------------

WORDS = [
    "the", "minister", "said", "on", "Tuesday", "that", "troops", "would", "cross", "the",
    "border", "before", "winter", "while", "officials", "in", "the", "capital", "denied",
    "reports", "of", "a", "new", "offensive", "near", "the", "river", "city",
]
ACCENTED = ["café", "naïve", "Pérez", "São Paulo", "Zürich", "Gdańsk", "Ærø", "Øresund",
            "İstanbul", "Dvořák", "façade", "Ñandú", "Köln", "Москва", "Αθήνα", "東京"]
TRIGGERS = [
    "&amp;", "&eacute;", "&#8217;", "&EACUTE;", "&nosuch;", "AT&T", "<b>", "\x00", "\x07", "\x7f",
    "\x1b[31m", "\r\n", "\r", "\u2028", "\u2029", "\x85", "\x96", "ﬁ", "ﬂ", "Ｆｕｌｌ", "\u3000",
    "\ufeff", "\u206a", "\ufffc", "e\u0301", "\u0301", "\ud83d\ude00", "\udc00", "Ã ", "Â ",
    "œuvre", "cœur.", "\xa0", "\ufffd", "\x1a",
]


def mojibake(text: str, rng: random.Random) -> str:
    """UTF-8 bytes decoded with the wrong single-byte codec, as scrapers do."""
    data = text.encode("utf-8")
    codec = rng.choice(["cp1252", "latin-1", "cp1251", "macroman", "cp437"])
    return data.decode(codec, errors="replace")  # cp1252 and cp1251 leave some bytes undefined


def random_line(rng: random.Random, bad_rate: float) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(3, 18))]
    for _ in range(rng.randint(0, 2)):
        words.insert(rng.randrange(len(words) + 1), rng.choice(ACCENTED))
    if rng.random() < 0.5:
        i = rng.randrange(len(words))
        words[i] = rng.choice(["“", "‘"]) + words[i] + rng.choice(["”", "’s", "’", "…"])
    line = " ".join(words) + rng.choice([".", "?", "!", ":", " —", ";"])
    if rng.random() < bad_rate:
        kind = rng.randrange(3)
        if kind == 0:
            line = mojibake(line, rng)
        elif kind == 1:
            i = rng.randrange(len(line) + 1)
            line = line[:i] + rng.choice(TRIGGERS) + line[i:]
        else:
            i = rng.randrange(len(line) + 1)
            piece = rng.choice([*ACCENTED, "’", "“", "—", "…", "€"])
            line = line[:i] + mojibake(piece, rng) + line[i:]
    return line


def random_document(rng: random.Random, bad_rate: float = 0.15) -> str:
    lines = [random_line(rng, bad_rate) for _ in range(rng.randint(1, 12))]
    if rng.random() < 0.2:
        lines.insert(rng.randrange(len(lines) + 1), "")
    return "\n".join(lines) + rng.choice(["", "\n"])


# --- fixtures ------------------------------------------------------------------------------------


def fixture_texts() -> list[str]:
    texts = []
    for name in FIXTURE_NAMES:
        whole = (FIXTURES / name).read_text(encoding="utf-8")
        texts.append(whole)
        texts.extend(re.split(r"\n\s*\n", whole))  # paragraphs / documents
        texts.extend(whole.splitlines(keepends=True))
    return texts


def test_fixtures_match_ftfy_whole_paragraph_and_line() -> None:
    for text in fixture_texts():
        assert_like_ftfy(text)


def test_noisy_fixture_mojibake_repairs_to_clean_fixture() -> None:
    noisy = (FIXTURES / "news_scrape.noisy.txt").read_text(encoding="utf-8")
    clean = (FIXTURES / "news_scrape.clean.txt").read_text(encoding="utf-8")
    bad_lines = [line for line in noisy.splitlines() if "â€" in line]
    assert len(bad_lines) >= 2
    for line in bad_lines:
        fixed, steps = repair(line)
        assert "â€" not in fixed
        assert fixed in clean.splitlines(), fixed
        assert steps and steps[:2] == (("encode", "sloppy-windows-1252"), ("decode", "utf-8"))


def test_generated_corpus_matches_ftfy() -> None:
    rng = random.Random(7)
    docs = [random_document(rng) for _ in range(300)]
    assert sum(repair(d)[0] != d for d in docs) > 40  # the corpus really exercises ftfy
    for doc in docs:
        assert_like_ftfy(doc)
    assert repair_many(docs) == [reference(d) for d in docs]
    assert repair_many(docs, uncurl_quotes=True) == [reference(d, True) for d in docs]


def test_long_document_is_split_like_fix_text() -> None:
    """Hundreds of KB, thousands of lines: fix_and_explain alone would treat it as one segment
    (so one '<' would stop entity decoding everywhere); repair splits as fix_text does."""
    rng = random.Random(11)
    lines = [random_line(rng, bad_rate=0.0) for _ in range(5000)]
    broken = range(7, 5000, 97)
    for i in broken:
        lines[i] += " — itâ€™s"
    lines[100] = "Caf&eacute; &amp; bar, itâ€™s fine"
    lines[2000] = "markup <b>bold</b> then &amp; stays"
    lines[4000] = "after the markup &eacute; stays too, but itâ€™s fixed"
    doc = "\n".join(lines)
    assert len(doc) > 300_000
    fixed, steps = repair(doc)
    assert (fixed, steps) == reference(doc)
    assert fixed == ftfy.fix_text(doc, ftfy_config(False))
    assert ftfy.fix_and_explain(doc, ftfy_config(False)).text != fixed
    out = fixed.split("\n")
    assert len(out) == len(lines)
    assert out[100] == "Café & bar, it’s fine"
    assert out[2000] == lines[2000]
    assert out[4000] == "after the markup &eacute; stays too, but it’s fixed"
    assert all(out[i].endswith(" — it’s") for i in broken)
    # steps are collected from every changed segment, in order
    assert steps.count(("apply", "unescape_html")) == 1
    utf8_fixes = {("decode", "utf-8"), ("apply", "decode_inconsistent_utf8")}
    assert sum(step in utf8_fixes for step in steps) == len(broken) + 2


def test_non_idempotent_ftfy_is_repeated_until_stable() -> None:
    text = "&amp;\u2028<"  # one segment with '<' (no unescaping), then two segments after pass 1
    once = ftfy.fix_text(text, ftfy_config(False))
    assert once == "&amp;\n<" and ftfy.fix_text(once, ftfy_config(False)) == "&\n<"
    assert repair(text) == ("&\n<", (("apply", "fix_line_breaks"), ("apply", "unescape_html")))
    assert repair("&\n<") == ("&\n<", ())


def test_explanations() -> None:
    assert repair("itâ€™s") == ("it’s", (("encode", "sloppy-windows-1252"), ("decode", "utf-8")))
    assert repair("Ã la mode") == (
        "à la mode",
        (("encode", "latin-1"), ("transcode", "restore_byte_a0"), ("decode", "utf-8")),
    )
    assert repair("&eacute;t&eacute;") == ("été", (("apply", "unescape_html"),))
    assert repair("ﬁne ＡＢ\r\n") == (
        "fine AB\n",
        (("apply", "fix_latin_ligatures"), ("apply", "fix_character_width"),
         ("apply", "fix_line_breaks")),
    )
    assert repair("\x1b[31mred\x1b[0m") == ("red", (("apply", "remove_terminal_escapes"),))
    assert repair("e\u0301") == ("é", (("normalize", "NFC"),))
    for _, steps in repair_many(["itâ€™s", "fine"]):
        assert all(type(step) is tuple and len(step) == 2 for step in steps)


def test_quotes_kept_by_default_and_uncurled_on_request() -> None:
    text = "“Hi,” she said — it’s ‘fine’."
    assert repair(text) == (text, ())
    assert repair(text, uncurl_quotes=True) == (
        "\"Hi,\" she said — it's 'fine'.", (("apply", "uncurl_quotes"),)
    )
    assert ftfy_config(False).uncurl_quotes is False
    assert ftfy_config(True).uncurl_quotes is True
    defaults = ftfy.TextFixerConfig()
    assert ftfy_config(False)._replace(uncurl_quotes=True, explain=True) == defaults


def test_edge_cases() -> None:
    for text in ["", "\n", "\n\n\n", "x", "<", "&", "\r", "Ã", "œ", " \u0301"]:
        assert_like_ftfy(text)
    assert repair("") == ("", ())


def test_line_longer_than_max_decode_length_is_cut() -> None:
    """ftfy cuts lines longer than max_decode_length; a fix at the cut must be found too."""
    config = ftfy_config(False)
    line = "a" * config.max_decode_length + "Ã la\x01 fin"  # 2nd piece starts with "Ã "
    fixed, steps = repair(line)
    assert fixed == ftfy.fix_text(line, config) == "a" * config.max_decode_length + "à la fin"
    assert ("apply", "remove_control_chars") in steps and ("decode", "utf-8") in steps


def test_clean_text_never_reaches_ftfy(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("ftfy called on clean text")

    clean = (FIXTURES / "news_scrape.clean.txt").read_text(encoding="utf-8")
    assert not clean.isascii()  # curly quotes, dashes
    ascii_text = "Plain ASCII, with tabs\tand form feeds\x0c and Q&A; 3 < 4 > 2.\n" * 100
    monkeypatch.setattr(ftfy, "fix_and_explain", boom)
    assert repair(clean) == (clean, ())
    assert repair(ascii_text) == (ascii_text, ())
    assert repair("Zürich, São Paulo, Москва, Αθήνα, 東京 — “quoted” …")[1] == ()


def test_mojibake_hint_is_derived_from_ftfy() -> None:
    """The fast hint is built from ftfy's BADNESS_RE; if a future ftfy makes that impossible,
    repair stays exact but slow (is_bad on every segment), and this test says so."""
    assert repair_module._HINT_PARTS is not None


def _chars_named_in(pattern: re.Pattern[str]) -> set[str]:
    parser, c = repair_module._sre()  # the stdlib regex parser
    found: set[int] = set()

    def walk(items: Any) -> None:
        for op, av in items:
            if op is c.LITERAL:
                found.add(av)
            elif op is c.IN:
                for sub_op, sub_av in av:
                    if sub_op is c.LITERAL:
                        found.add(sub_av)
                    elif sub_op is c.RANGE:
                        found.update(range(sub_av[0], sub_av[1] + 1))
            elif op is c.BRANCH:
                for branch in av[1]:
                    walk(branch.data)

    walk(parser.parse(pattern.pattern, pattern.flags).data)
    return {chr(cp) for cp in found}


def test_hint_catches_every_bad_character_pair() -> None:
    """Exhaustive over 2-character strings of every character BADNESS_RE names (plus a few
    ASCII ones): whatever ftfy's is_bad flags, the fast scan flags too."""
    from ftfy.badness import BADNESS_RE

    alphabet = sorted(_chars_named_in(BADNESS_RE) | set("aZ .\n\t?\xa0"))
    assert len(alphabet) > 400
    hint = repair_module._scanner(set())
    bad = [a + b for a in alphabet for b in alphabet if is_bad(a + b)]
    assert len(bad) > 10_000
    assert [s for s in bad if hint.search(s) is None] == []


# --- hypothesis ----------------------------------------------------------------------------------

MOJIBAKE_CHARS = sorted(  # every character named in the hint: the chars ftfy's is_bad looks at
    {c for first, seconds in (repair_module._HINT_PARTS or ({}, {}))[1].items()
     for c in (*first, *seconds) if c >= 0x80}
    | set((repair_module._HINT_PARTS or (set(), {}))[0])
)
FRAGMENTS = [
    *WORDS[:8], " ", " ", "\n", "\n", "\t", ".", ",", "a", "Z", "3", ";", "#", "x", "?",
    *TRIGGERS, *ACCENTED, "’", "“", "”", "‘", "—", "–", "…", "€", "©", "®", "™", "°", "±",
    "Ã", "Â", "Ð", "Ø", "Ù", "â€™", "â€œ", "â€", "Ã©", "Ã¨", "Ã¶", "Ã¼", "Ã±", "Ãƒ", "Ø§Ù„",
    "вЂ", "Г", "ў", "В", "Ђ", "β€", "ā€", "√±", "≈°", "‚Ä", "×²", "à²", "ÐŸ", "Ñ€",
    "&lt;", "&#10;", "&#13;", "&NewLine;", "&#x85;", "&Atilde;&copy;", "&#", "&amp",
]
mixed_text = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.sampled_from(MOJIBAKE_CHARS).map(chr)), max_size=40
).map("".join)
broad_text = st.text(st.characters(exclude_categories=()))  # surrogates and controls too
mojibaked_text = st.builds(
    lambda s, codec: s.encode("utf-8").decode(codec, errors="replace"),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x2FFF), max_size=20),
    st.sampled_from(["cp1252", "latin-1", "cp1251", "cp1250", "cp1253", "macroman", "cp437"]),
)
any_text = st.one_of(broad_text, mixed_text, mojibaked_text)


@given(broad_text)
def test_broad_unicode_matches_ftfy(text: str) -> None:
    assert_like_ftfy(text)


@given(mixed_text)
@example("&amp;\u2028<")
@example("x Ã bc")
@example("\nÃ bc")
@example("Â ")
@example("cœur.")
def test_trigger_mixtures_match_ftfy(text: str) -> None:
    assert_like_ftfy(text)


@given(mojibaked_text)
def test_mojibake_matches_ftfy(text: str) -> None:
    assert_like_ftfy(text)


@given(any_text, st.booleans())
def test_repair_is_idempotent(text: str, uncurl: bool) -> None:
    fixed, _ = repair(text, uncurl)
    assert repair(fixed, uncurl) == (fixed, ())


HINT = repair_module._scanner(set())  # the mojibake part of the fast-path scan alone


@given(st.lists(st.one_of(st.sampled_from(MOJIBAKE_CHARS).map(chr), st.sampled_from(FRAGMENTS)),
                max_size=12).map("".join))
def test_hint_is_a_superset_of_ftfy_badness(text: str) -> None:
    if is_bad(text):
        assert HINT.search(text) is not None


@given(st.text(st.sampled_from(string.ascii_letters + " \t\n\r\x0c\x1b\x00\x7f&;#<[")))
def test_ascii_fast_path_matches_ftfy(text: str) -> None:
    assert_like_ftfy(text)
    if "\r" not in text and not re.search(r"[\x00-\x08\x0b\x0e-\x1f\x7f]", text) and not re.search(
        r"&#?[0-9A-Za-z]{1,24};", text
    ):
        assert not repair_module._may_change(text, False, entities=True, segment=False)


def test_nfc_is_checked_per_whole_text_and_segment() -> None:
    for text in ["e\u0301", "a\n\u0301b", "\u1100\u1161", "\u0344", "Å", "한국어 ok"]:
        assert_like_ftfy(text)
        assert unicodedata.is_normalized("NFC", repair(text)[0])
