"""The UI-TARS output parser on the formats the UI-TARS repositories document (cases written
here from those formats), and the malformed outputs it must refuse."""

from __future__ import annotations

import pytest

from sensorium.stages.gui.parse import ParseError, Point, parse_action, parse_output, parse_point


@pytest.mark.parametrize("text, point", [
    ("(235,512)", Point(235, 512)),
    ("(235, 512)", Point(235, 512)),
    ("<|box_start|>(235,512)<|box_end|>", Point(235, 512)),
    ("(100,200,300,400)", Point(200, 300, (100, 200, 300, 400))),
    ("[100, 200, 300, 400]", Point(200, 300, (100, 200, 300, 400))),
    ("<|box_start|>(100,200),(300,400)<|box_end|>", Point(200, 300, (100, 200, 300, 400))),
    ("<point>235 512</point>", Point(235, 512)),
    ("<bbox>100 200 300 400</bbox>", Point(200, 300, (100, 200, 300, 400))),
    ("(12.5,7.25)", Point(12.5, 7.25)),
])
def test_point_forms(text, point):
    assert parse_point(text) == point


@pytest.mark.parametrize("text", ["=", "", "(1)", "(1,2,3)", "<point>1</point>", "(300,400,100,200)", "(a,b)", "<bbox>1 2 3</bbox>"])
def test_bad_points(text):
    with pytest.raises(ParseError):
        parse_point(text)


def test_v10_computer_output():
    out = parse_output("Thought: The search box is at the top.\nAction: click(start_box='<|box_start|>(486,81)<|box_end|>')")
    assert out.thought == "The search box is at the top."
    (a,) = out.actions
    assert a.type == "click" and a.points["start"] == Point(486, 81)


def test_v15_sections_full_width_colon_and_eos():
    text = ("Reflection：the menu did not open\nAction_Summary：open the File menu again\n"
            "Thought：Click File.\nAction：left_single(point='<point>12 30</point>')[EOS]")
    out = parse_output(text)
    assert out.reflection == "the menu did not open" and out.summary == "open the File menu again" and out.thought == "Click File."
    assert out.actions[0].type == "click" and out.actions[0].points["start"] == Point(12, 30)


def test_several_actions_separated_by_blank_lines():
    text = ("Thought: Fill in the name and submit.\nAction: click(start_box='(100,200)')\n\n"
            "type(content='Ada Lovelace\\n')\n\nhotkey(key='ctrl enter')")
    out = parse_output(text)
    assert [a.type for a in out.actions] == ["click", "type", "hotkey"]
    assert out.actions[1].params["content"] == "Ada Lovelace\n"  # trailing newline: submit
    assert out.actions[2].params["key"] == "ctrl enter"


@pytest.mark.parametrize("call, content", [
    (r"type(content='It\'s done')", "It's done"),
    (r'type(content="say \"hi\"")', 'say "hi"'),
    (r"type(content='a\\b')", "a\\b"),
    ("type(content='line one\\nline two')", "line one\nline two"),
    ("type(content='it's unescaped')", "it's unescaped"),  # ast fails; the lenient pass reads it
])
def test_type_content_escapes(call, content):
    assert parse_action(call).params["content"] == content


@pytest.mark.parametrize("call, kind, points, params", [
    ("left_double(start_box='(5,6)')", "left_double", {"start": Point(5, 6)}, {}),
    ("right_single(start_box='(5,6)')", "right_single", {"start": Point(5, 6)}, {}),
    ("drag(start_box='(1,2)', end_box='(3,4)')", "drag", {"start": Point(1, 2), "end": Point(3, 4)}, {}),
    ("drag(start_point='<point>1 2</point>', end_point='<point>3 4</point>')", "drag", {"start": Point(1, 2), "end": Point(3, 4)}, {}),
    ("select(start_box='(1,2)', end_box='(3,4)')", "drag", {"start": Point(1, 2), "end": Point(3, 4)}, {}),
    ("hotkey(key='Ctrl+C')", "hotkey", {}, {"key": "ctrl c"}),
    ("scroll(start_box='(500,500)', direction='down')", "scroll", {"start": Point(500, 500)}, {"direction": "down"}),
    ("scroll(direction='UP')", "scroll", {}, {"direction": "up"}),
    ("wait()", "wait", {}, {}),
    ("finished(content='all done')", "finished", {}, {"content": "all done"}),
    ("finished()", "finished", {}, {}),
    ("call_user()", "call_user", {}, {}),
    ("long_press(start_box='(9,9)')", "long_press", {"start": Point(9, 9)}, {}),
    ("open_app(app_name='Settings')", "open_app", {}, {"app_name": "Settings"}),
    ("press_home()", "press_home", {}, {}),
    ("press_back()", "press_back", {}, {}),
    ("navigate(url='https://example.org')", "navigate", {}, {"url": "https://example.org"}),
    ("navigate_back()", "navigate_back", {}, {}),
])
def test_action_space(call, kind, points, params):
    a = parse_action(call)
    assert (a.type, a.points, a.params) == (kind, points, params)


@pytest.mark.parametrize("text, match", [
    ("click(start_box='=')", "cannot read a point"),
    ("Thought: hmm\nAction: teleport(start_box='(1,2)')", "unknown action 'teleport'"),
    ("click()", "missing start_box"),
    ("drag(start_box='(1,2)')", "missing end_box"),
    ("scroll(direction='sideways')", "direction"),
    ("click(start_box='(1,2)', colour='red')", "unknown argument 'colour'"),
    ("click(start_box='(1,2)', point='(3,4)')", "two arguments"),
    ("Thought: I am thinking", "no 'Action:'"),
    ("Thought: x\nAction: ", "empty"),
    ("Thought: x\nAction: click(start_box='(1,2)')\n\nclick(start_box='?')", "cannot read a point"),
    ("hotkey(key='')", "empty key"),
    ("print('hi')", "unknown action"),
    ("click('(1,2)')", "positional"),
    ("just some words", "not an action call"),
])
def test_malformed_output_is_a_clear_error(text, match):
    with pytest.raises(ParseError, match=match):
        parse_output(text)
