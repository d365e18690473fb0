"""What Webex refuses, caught before sending: text split into parts that fit, cards and attachments checked.

The properties run over generated texts with small limits, so that every way of cutting (blank line,
line, word, character, code block) happens in each run.
"""
from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import BotError
from bot.limits import (CARD_TYPE, MAX_CARD_BYTES, MAX_TEXT_BYTES, Unsendable, attachment_problem, card_problem,
                        split_text)

FENCE_LINE = re.compile(r" {0,3}(`{3,}|~{3,})[ \w+-]*")


def size(part: str) -> int:
    return len(part.encode())


def without_fence_lines(text: str) -> str:
    return "\n".join(line for line in text.split("\n") if not FENCE_LINE.fullmatch(line.rstrip()))


def assert_same_words(parts: list[str], text: str, limit: int) -> None:
    """The words survive in order; a word is cut only when too long for a part (less the fence lines of a
    code piece, at most 16 bytes here)."""
    got, expected = without_fence_lines("\n".join(parts)).split(), without_fence_lines(text).split()
    assert "".join(got) == "".join(expected)
    got_ends, expected_ends = ends(got), ends(expected)
    assert expected_ends <= got_ends
    cut_words = {word for word, end in zip(expected, sorted(expected_ends)) if any(
        end - len(word) < cut < end for cut in got_ends - expected_ends)}
    assert all(size(word) > limit - 16 for word in cut_words)


def ends(words: list[str]) -> set[int]:
    return {sum(len(word) for word in words[:n + 1]) for n in range(len(words))}


def fences_balance(part: str) -> bool:
    """Whether every code block opened in ``part`` is closed in it (a CommonMark reading of fences)."""
    marker = ""
    for line in part.split("\n"):
        fence = re.fullmatch(r" {0,3}(`{3,}|~{3,})(.*)", line.rstrip())
        if not marker and fence:
            marker = fence[1]
        elif marker and fence and fence[1][0] == marker[0] and len(fence[1]) >= len(marker) and not fence[2].strip():
            marker = ""
    return not marker


def card(version: str = "1.3", **fields: Any) -> dict[str, Any]:
    return {"type": "AdaptiveCard", "version": version, "body": [{"type": "TextBlock", "text": "Hi"}], **fields}


# split_text: concrete examples


@pytest.mark.parametrize("text", ["", "hello", "  spaced  \n\n\n", "x" * MAX_TEXT_BYTES, "é" * (MAX_TEXT_BYTES // 2)])
def test_a_text_within_the_limit_is_one_part_unchanged(text: str) -> None:
    assert split_text(text) == [text]


def test_a_text_exactly_at_the_limit_is_one_part_and_one_byte_over_is_two() -> None:
    words = " ".join(["word"] * 2000)
    at_limit = words[:MAX_TEXT_BYTES - 1] + "x"
    assert split_text(at_limit) == [at_limit]
    over = at_limit + "y"
    parts = split_text(over)
    assert len(parts) == 2 and all(size(part) <= MAX_TEXT_BYTES for part in parts)
    assert " ".join(parts).split() == over.split()


def test_a_long_text_of_paragraphs_is_cut_at_blank_lines_into_full_parts() -> None:
    paragraphs = [f"Paragraph {n}: " + " ".join(["lorem ipsum dolor"] * 12) + "\nsecond line." for n in range(84)]
    text = "\n\n".join(paragraphs)
    assert 20_000 <= size(text) < 3 * MAX_TEXT_BYTES
    parts = split_text(text)
    assert len(parts) == 3
    assert [paragraph for part in parts for paragraph in part.split("\n\n")] == paragraphs
    for part, following in zip(parts, parts[1:]):
        assert size(part) <= MAX_TEXT_BYTES < size(part + "\n\n" + following.split("\n\n")[0])


def test_paragraph_boundaries_are_preferred_to_fuller_parts() -> None:
    parts = split_text("short one\n\n" + "\n".join(["a line of words"] * 6), 60)
    assert parts[0] == "short one"
    assert all("\n" in part and not part.startswith("\n") for part in parts[1:])


def test_one_long_line_is_cut_between_words() -> None:
    text = " ".join(f"word{n}" for n in range(3000))
    parts = split_text(text)
    assert all(size(part) <= MAX_TEXT_BYTES for part in parts)
    assert " ".join(parts) == text
    for part, following in zip(parts, parts[1:]):
        assert size(part + " " + following.split()[0]) > MAX_TEXT_BYTES


def test_one_huge_word_is_cut_between_characters() -> None:
    parts = split_text("a" * 20_000)
    assert [len(part) for part in parts] == [MAX_TEXT_BYTES, MAX_TEXT_BYTES, 20_000 - 2 * MAX_TEXT_BYTES]


@pytest.mark.parametrize("word, limit", [("😀" * 50, 10), ("漢字仮名" * 30, 40), ("é" * 99, 7), ("a😀漢é" * 40, 41)])
def test_a_cut_never_lands_inside_a_character(word: str, limit: int) -> None:
    parts = split_text(word, limit)
    assert "".join(parts) == word
    assert all(limit - 3 <= size(part) <= limit for part in parts[:-1])


def test_a_code_block_that_fits_stays_whole_in_one_part() -> None:
    block = "```python\ndef hello():\n\n    return 'hi'\n```"
    parts = split_text("intro words here\n\n" + block + "\nafter the block", 60)
    assert block in parts[1] and all(fences_balance(part) for part in parts)


def test_a_code_block_longer_than_the_limit_is_closed_and_reopened_in_each_part() -> None:
    code = [f"    value_{n} = compute({n})" for n in range(400)]
    block = "```python\n" + "\n".join(code) + "\n```"
    assert size(block) > MAX_TEXT_BYTES
    parts = split_text("Here is the code:\n\n" + block + "\n\nThat was it.")
    assert parts[0] == "Here is the code:"
    pieces = parts[1:]
    assert all(size(part) <= MAX_TEXT_BYTES for part in parts)
    assert all(piece.startswith("```python\n    value_") and "\n```" in piece for piece in pieces)
    assert [line for piece in pieces for line in piece.split("\n") if line.startswith("    ")] == code
    assert pieces[-1].endswith("\n```\n\nThat was it.")


def test_a_tilde_fence_is_reopened_with_its_own_marker() -> None:
    parts = split_text("~~~~ text\n" + "\n".join(["some quoted line"] * 10) + "\n~~~~", 60)
    assert len(parts) > 1
    assert all(part.startswith("~~~~ text\n") and part.endswith("\n~~~~") for part in parts)


def test_blank_lines_inside_code_are_no_paragraph_breaks() -> None:
    block = "```\nfirst\n\n\nsecond\n```"
    assert split_text("x" * 30 + "\n\n" + block, 30) == ["x" * 30, block]


def test_a_fence_too_wide_to_reopen_is_cut_as_plain_lines() -> None:
    text = "```" + "x" * 35 + "\n" + "\n".join(["code line"] * 8) + "\n```"
    parts = split_text(text, 40)
    assert all(size(part) <= 40 for part in parts) and " ".join(parts).split() == text.split()


def test_windows_line_ends_are_line_ends() -> None:
    assert split_text("first para\r\n\r\nsecond para", 20) == ["first para", "second para"]


def test_a_text_of_only_whitespace_has_no_parts() -> None:
    assert split_text(" \n\n\t" * 20, 40) == []


def test_a_limit_below_the_longest_character_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 4"):
        split_text("too long for three bytes", 3)


# split_text: properties over generated texts

WORD = st.text(st.sampled_from("abcxyz0189éñ漢字😀🇫"), min_size=1, max_size=50)
LINE = st.builds(lambda indent, words: " " * indent + " ".join(words), st.integers(0, 4),
                 st.lists(WORD, min_size=1, max_size=8))
PARAGRAPH = st.lists(LINE, min_size=1, max_size=6).map("\n".join)
FENCE = st.builds(lambda marker, info, lines: f"{marker}{info}\n" + "\n".join(lines) + f"\n{marker}",
                  st.sampled_from(["```", "~~~", "````"]), st.sampled_from(["", "python", " js", "c++"]),
                  st.lists(st.one_of(LINE, st.just("")), min_size=0, max_size=15))
TEXT = st.lists(st.tuples(st.one_of(PARAGRAPH, FENCE), st.sampled_from(["\n", "\n\n", "\n\n\n", "\n \n"])),
                min_size=1, max_size=10).map(lambda blocks: "".join(block + gap for block, gap in blocks))
LIMIT = st.integers(40, 200)


@settings(max_examples=200, deadline=None)
@given(TEXT, LIMIT)
def test_every_part_fits_renders_alone_and_keeps_the_words(text: str, limit: int) -> None:
    parts = split_text(text, limit)
    assert parts == split_text(text, limit)
    if size(text) <= limit:
        assert parts == [text]
        return
    assert all(size(part) <= limit for part in parts)
    assert all(part.strip() and part == part.strip() for part in parts)
    assert all(fences_balance(part) for part in parts)
    assert_same_words(parts, text, limit)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(WORD, st.sampled_from([" ", "\n", "\n\n", "\t"])), max_size=60).map("".join), LIMIT)
def test_text_without_fences_keeps_its_words_exactly(text: str, limit: int) -> None:
    parts = split_text(text, limit)
    assert all(size(part) <= limit for part in parts)
    assert_same_words(parts, text, limit)


@settings(max_examples=30, deadline=None)
@given(TEXT)
def test_a_text_within_the_limit_stays_one_part(text: str) -> None:
    assert split_text(text, size(text)) == [text]


# card_problem and attachment_problem


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2", "1.3"])
def test_cards_up_to_version_1_3_are_fine(version: str) -> None:
    assert card_problem(card(version)) is None


@pytest.mark.parametrize("content, reason", [
    ("not a card", "not a str"),
    ([card()], "not a list"),
    ({"version": "1.3"}, '"type": "AdaptiveCard"'),
    ({**card(), "type": "MessageCard"}, "'MessageCard'"),
    ({"type": "AdaptiveCard"}, '"version" as "major.minor"'),
    (card(1.3), "not 1.3"),
    (card("1"), "not '1'"),
    (card("v1.2"), "not 'v1.2'"),
    (card("1.4"), "version 1.4, but Webex renders cards up to version 1.3"),
    (card("1.5"), "version 1.5"),
    (card("1.10"), "version 1.10"),
    (card("2.0"), "version 2.0"),
    (card(body=[{"type": "TextBlock", "text": {1, 2}}]), "not JSON"),
    (card(body=[{"type": "TextBlock", "text": float("nan")}]), "not JSON"),
])
def test_card_problem_names_the_reason(content: Any, reason: str) -> None:
    problem = card_problem(content)
    assert problem is not None and reason in problem


def test_a_card_over_the_size_names_both_sizes() -> None:
    big = card(body=[{"type": "TextBlock", "text": "x" * MAX_CARD_BYTES}])
    problem = card_problem(big)
    assert problem is not None and f"{MAX_CARD_BYTES:,}" in problem and "22,0" in problem.split(" bytes")[0]
    assert card_problem(card(), max_bytes=50) is not None
    assert card_problem(card(), max_bytes=len('{"type":"AdaptiveCard","version":"1.3","body":[{"type":"TextBlock",'
                                              '"text":"Hi"}]}')) is None


def message(**fields: Any) -> dict[str, Any]:
    return {"roomId": "room", "markdown": "hello", **fields}


@pytest.mark.parametrize("fields", [
    message(), message(files=["report.pdf"]), message(attachments=[{"contentType": CARD_TYPE, "content": card()}]),
    message(files=["https://example.com/a.png"], attachments=[{"contentType": CARD_TYPE, "content": card("1.0")}]),
])
def test_one_file_and_one_card_are_fine(fields: dict[str, Any]) -> None:
    assert attachment_problem(fields) is None


@pytest.mark.parametrize("fields, reason", [
    (message(files=["a.pdf", "b.pdf"]), "one file, not 2"),
    (message(attachments=[{"contentType": CARD_TYPE, "content": card()}] * 3), "one card, not 3"),
    (message(attachments=[{"contentType": "text/html", "content": card()}]), "not 'text/html'"),
    (message(attachments=["not an attachment"]), "must be an Adaptive Card"),
    (message(attachments=[{"contentType": CARD_TYPE, "content": card("1.5")}]), "version 1.5"),
    (message(attachments=[{"contentType": CARD_TYPE}]), "not a NoneType"),
])
def test_attachment_problem_names_the_reason(fields: dict[str, Any], reason: str) -> None:
    problem = attachment_problem(fields)
    assert problem is not None and reason in problem


def test_unsendable_is_a_bot_error_and_a_value_error() -> None:
    error = Unsendable("the card is version 1.5")
    assert isinstance(error, BotError) and isinstance(error, ValueError) and str(error) == "the card is version 1.5"
