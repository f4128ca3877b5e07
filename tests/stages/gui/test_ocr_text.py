"""Matching asked labels against OCR lines as real OCR splits and screens truncate them."""

from __future__ import annotations

import pytest

from sensorium.stages.gui.ocr_text import TextBox, find_text, match_score, merge_fragments, normalise


def _line(text: str, x1: float, y1: float = 100.0, h: float = 20.0, per_char: float = 11.0) -> TextBox:
    return TextBox(text, (x1, y1, x1 + per_char * len(text), y1 + h), 0.9)


def test_fragments_of_one_word_merge_without_a_space_and_keep_the_originals():
    ne, xt = _line("NE", 100), _line("XT", 100 + 22 + 3)  # 3 px apart: inside one word
    merged = merge_fragments([ne, xt])
    assert ne in merged and xt in merged
    [run] = [t for t in merged if t.parts == 2]
    assert run.text == "NEXT" and run.box == (100, 100, 147, 120)


def test_words_apart_by_a_space_merge_with_one():
    runs = [t for t in merge_fragments([_line("Sign", 10), _line("in", 10 + 44 + 9)]) if t.parts > 1]
    assert [t.text for t in runs] == ["Sign in"]


@pytest.mark.parametrize("second, why", [
    (_line("Cancel", 300), "far along the line: another item of a toolbar"),
    (_line("XT", 125, y1=140), "the next line down"),
    (_line("XT", 125, h=60), "text three times the height: not the same line"),
])
def test_separate_items_do_not_merge(second, why):
    assert all(t.parts == 1 for t in merge_fragments([_line("NE", 100), second])), why


def test_a_split_label_is_found_as_its_merged_run_with_the_joined_box():
    texts = [_line("NE", 100), _line("X", 125), _line("Back", 10, y1=400)]
    m = find_text("NEXT", merge_fragments(texts))
    assert m.text.text == "NEX" and m.text.box[0] == 100 and m.score < 90  # "NE" + "X": one letter short
    m = find_text("NEXT", merge_fragments([_line("NE", 100), _line("XT", 125), _line("Back", 10, y1=400)]))
    assert m.text.text == "NEXT" and m.score == 100 and m.how == "whole"


@pytest.mark.parametrize("target, on_screen, at_least", [
    ("https://play.google.com/store/apps/details", "https://play.google.com/store/a…", 95),  # cut on the screen
    ("https://play.google.com/store/apps/details", "https://play.google.com/store/a...", 95),  # OCR's dots
    ("Automatic, Manual, Not…", "Automatic, Manual, Not specified", 95),  # the request is the cut one
])
def test_truncated_text_matches_by_its_start(target, on_screen, at_least):
    score, how, _ = match_score(normalise(target), normalise(on_screen))
    assert score >= at_least and how == "truncated"


@pytest.mark.parametrize("target, on_screen", [
    ("Settings", "Se…"),  # too little kept to mean anything
    ("Share this page", "Shop…"),  # a different start
])
def test_a_short_or_different_start_is_not_a_truncation(target, on_screen):
    assert match_score(normalise(target), normalise(on_screen))[0] < 70


def test_ties_go_to_the_whole_line_then_to_the_line_read_whole():
    texts = [_line("Select time", 10, y1=10), _line("Select", 10, y1=200), _line("Sel", 10, y1=300), _line("ect", 10 + 33 + 2, y1=300)]
    m = find_text("Select", merge_fragments(texts))
    assert m.text.box[1] == 200 and m.text.parts == 1


@pytest.mark.parametrize("raw, expected", [("  Email: ", "email"), ("'Full  name'*", "full name"), ("OK", "ok")])
def test_normalise(raw, expected):
    assert normalise(raw) == expected


@pytest.mark.parametrize("target, on_screen", [
    ("OK", "Brooklyn Nets"),  # a short name inside a longer word
    ("Mail", "Email address"),
    ("Add", "Email address"),
    ("Home", "Customer"),
    ("Page info", "Webpage not available"),  # the start of one word and the end of another
    ("Menu", "Choose one from the menu."),  # a short name as one word of a sentence is not its label
])
def test_a_name_is_not_found_inside_other_words(target, on_screen):
    assert match_score(normalise(target), normalise(on_screen))[0] < 70


@pytest.mark.parametrize("target, on_screen, at_least", [
    ("Settings", "Open Settings", 95),  # whole words of a longer label
    ("Search", "Search Word", 95),
    ("Sign in", "Please sign in to continue", 80),  # a longer name in a sentence: weaker, still found
    ("Add to cart", "Buy: Add tocart", 90),  # OCR joined two words
    ("OK", "OK CANCEL", 80),  # a short name that is a word of the line
])
def test_a_name_made_of_whole_words_of_a_line_is_contained(target, on_screen, at_least):
    score, how, _ = match_score(normalise(target), normalise(on_screen))
    assert score >= at_least and how == "contained"
