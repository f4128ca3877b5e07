"""Tokens at rest: only hashes in the file, scopes checked, the file reread when it changes."""

from __future__ import annotations

import json
import os

import pytest

from sensorium.deploy.tokens import SCOPES, TokenRecord, TokenTable, hash_token, new_token, parse_scopes, read_records, write_records


def test_the_file_holds_hashes_and_the_table_finds_the_token(tmp_path):
    token = new_token()
    path = tmp_path / "tokens.json"
    write_records(path, [TokenRecord("ci", hash_token(token), ("perceive",))])
    assert token not in path.read_text() and hash_token(token) in path.read_text()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    table = TokenTable(path=path)
    assert table.verify(token) == TokenRecord("ci", hash_token(token), ("perceive",))
    assert table.verify(token + "x") is None and table.verify("") is None


def test_the_table_rereads_a_changed_file_and_plain_tokens_have_every_scope(tmp_path):
    path = tmp_path / "tokens.yaml"
    a, b = new_token(), new_token()
    write_records(path, [TokenRecord("a", hash_token(a), ("agent",))])
    table = TokenTable(plain="legacy", path=path)
    assert table.verify("legacy").scopes == SCOPES and table.verify(a).name == "a"
    write_records(path, [TokenRecord("b", hash_token(b), ("streams", "admin"))])
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)  # a distinct stamp even on a coarse clock
    assert table.verify(a) is None and table.verify(b).scopes == ("streams", "admin")
    assert read_records(path)[0].name == "b" and "tokens:" in path.read_text()  # YAML by its suffix


@pytest.mark.parametrize("entries, message", [
    ({"tokens": [{"name": "x", "sha256": "ab", "scopes": ["agent"]}]}, "entry 0: token x: sha256 must be 64 lowercase hex digits"),
    ({"tokens": [{"name": "x", "sha256": "0" * 64, "scopes": ["root"]}]}, "entry 0: scopes: expected a comma-separated subset"),
    ({"tokens": [{"name": "x", "token": "plain", "scopes": ["agent"]}]}, "entry 0: expected keys name, sha256, scopes"),
    ({"tokens": [{"name": "x y", "sha256": "0" * 64, "scopes": ["agent"]}]}, "token name: expected 1-64 characters"),
    ({"tokens": [{"name": "x", "sha256": "0" * 64, "scopes": ["agent"]}] * 2}, "duplicate token names"),
    ({"tokens": "nope"}, "expected a list"),
])
def test_a_broken_tokens_file_names_what_is_wrong(tmp_path, entries, message):
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps(entries))
    with pytest.raises(ValueError, match=message):
        read_records(path)


@pytest.mark.parametrize("text, expected", [("agent", ("agent",)), ("admin, perceive,agent", ("perceive", "agent", "admin")),
                                            ("", ValueError), ("agent,everything", ValueError)])
def test_parse_scopes(text, expected):
    if expected is ValueError:
        with pytest.raises(ValueError, match="expected a comma-separated subset of perceive, agent, streams, admin"):
            parse_scopes(text)
    else:
        assert parse_scopes(text) == expected
