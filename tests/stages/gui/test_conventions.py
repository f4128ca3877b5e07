"""Which of several look-alike icons a label names: by an order in its words, or by the app bar's ends."""

from __future__ import annotations

import pytest

from sensorium.stages.gui.conventions import app_bar, app_bar_slot, named_order

ROW2 = [(300, 100, 340, 140), (100, 102, 140, 142)]  # two look-alikes in a row, given right one first
ROW3 = [(100, 100, 140, 140), (200, 100, 240, 140), (300, 100, 340, 140)]
COLUMN = [(100, 300, 140, 340), (100, 100, 140, 140)]
SCATTERED = [(100, 100, 140, 140), (300, 400, 340, 440)]


@pytest.mark.parametrize("label, boxes, expected", [
    ("Increase hour", ROW2, 1),  # the left one (index 1 in the given order)
    ("Increase minute", ROW2, 0),
    ("Decrease minutes", ROW3, 1),
    ("Increase seconds", ROW3, 2),
    ("Increase seconds", ROW2, None),  # seconds need a third column
    ("Increase second", ROW2, None),  # ending the label, "second" is the unit: it needs a third column
    ("Increase second", ROW3, 2),
    ("second tab", ROW3, 1),  # before a noun it is the ordinal
    ("2nd tab", ROW3, 1),
    ("second tab last", ROW3, None),  # words that disagree
    ("last page", ROW3, 2),
    ("left arrow", ROW2, 1),
    ("top button", COLUMN, 1),
    ("bottom button", COLUMN, 0),
    ("left button", COLUMN, None),  # a side across the line names nothing
    ("Increase hour", COLUMN, None),  # a time picker's units run along a row
    ("Increase hour", SCATTERED, None),  # not one row or column
    ("Increase minute", ROW2 + [(500, 600, 540, 640)], 0),  # a lone look-alike below the picker is no column
    ("Increase minute", ROW2 + [(100, 600, 140, 640), (300, 600, 340, 640)], None),  # two rows: which picker?
    ("second tab", ROW2 + [(500, 600, 540, 640)], None),  # an ordinal counts every look-alike: not one line
    ("first or last", ROW3, None),  # words that disagree
    ("Increase day", ROW3, None),  # a date's order depends on the locale
    ("Decrease", ROW2, None),  # no order named
])
def test_an_order_in_the_label_names_one_of_the_look_alikes(label, boxes, expected):
    assert named_order(label, boxes) == expected


def test_the_icons_own_name_is_not_a_place():
    assert named_order("right arrow", ROW2, skip="right arrow") is None
    assert named_order("right arrow", ROW2) == 0


def test_overlapping_boxes_are_not_a_row():
    assert named_order("first", [(100, 100, 140, 140), (120, 100, 160, 140)]) is None


# a 1080 x 2160 phone: status bar to y=64, app bar icons at y ~ 120, more icons further down
PHONE = (1080, 2160, 64)
BAR = [(980, 96, 1044, 150), (30, 95, 90, 152), (860, 98, 920, 150), (30, 900, 90, 960), (980, 900, 1044, 960)]


def test_the_app_bar_is_the_top_row_below_the_status_bar():
    assert app_bar(BAR, *PHONE) == [1, 2, 0]
    assert app_bar([(30, 900, 90, 960)], *PHONE) == []  # the topmost icon is far down: no bar


@pytest.mark.parametrize("name, boxes, expected", [
    ("Navigate up", BAR, 1),
    ("more options", BAR, 0),
    ("search", BAR, None),  # no convention for other names
    ("Navigate up", BAR[:1] + BAR[2:], None),  # the bar's left end is at the middle of the screen
    ("More options", BAR[1:2], None),  # one icon at the left: nothing at the right end
])
def test_framework_names_have_their_place_in_the_app_bar(name, boxes, expected):
    assert app_bar_slot(name, boxes, *PHONE) == expected
