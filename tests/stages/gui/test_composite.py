"""Composite labels: split at commas, each part grounded, clicked only when the parts agree."""

from __future__ import annotations

import pytest

from sensorium.stages.gui.composite import Part, decide, split_label, together


@pytest.mark.parametrize("label, parts", [
    ("3,368 results, Navigate up", ["3,368 results", "Navigate up"]),
    ("Inbox; 3 unread", ["Inbox", "3 unread"]),
    ("1, 2", ["1", "2"]),
    ("7,425,742 results", ["7,425,742 results"]),
    ("Navigate up", ["Navigate up"]),
    ("Save,", ["Save"]),
])
def test_split_at_commas_but_not_inside_numbers(label, parts):
    assert split_label(label) == parts


ICON = (10, 10, 50, 50)
NEAR_TEXT = (70, 30, 200, 50)  # the subtitle beside the up arrow
FAR_TEXT = (600, 900, 700, 920)


def test_together_means_within_twice_the_height():
    assert together(ICON, NEAR_TEXT) and not together(ICON, FAR_TEXT)


@pytest.mark.parametrize("parts, clicked, why", [
    ([Part("12 results", NEAR_TEXT, sure=True), Part("Navigate up", ICON, sure=True, icon=True)], "Navigate up", ""),
    ([Part("12 results", NEAR_TEXT, sure=False), Part("Navigate up", ICON, sure=True, icon=True)], "Navigate up", ""),
    ([Part("12 results"), Part("Navigate up", ICON, sure=True, icon=True)], "Navigate up", ""),
    ([Part("12 results", FAR_TEXT, sure=True), Part("Navigate up", ICON, sure=True, icon=True)], None, "apart"),
    ([Part("12 results", NEAR_TEXT, sure=False), Part("Navigate up")], None, "not surely"),
    ([Part("12 results", NEAR_TEXT, sure=True), Part("Navigate up", icon=True, ambiguous=True)], None, "several"),
    ([Part("12 results"), Part("Navigate up")], None, "no part"),
])
def test_the_parts_must_agree_or_one_be_sure_and_the_rest_absent(parts, clicked, why):
    chosen, reason = decide(parts)
    assert (chosen.text if chosen else None) == clicked and why in reason
