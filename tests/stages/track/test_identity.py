"""Face names voted over a track: a single-frame false match never names the track, a long
track keeps its name through a stray frame, unknown stays unknown."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.stages.track.identity import IdentityVotes, VoteRule


def feed(votes, frames):
    for tid, name, sim in frames:
        votes.add(np.array([tid]), np.array([name], dtype=object), np.array([sim], np.float32))


def test_a_single_frame_false_match_never_names_the_track():
    v = IdentityVotes(VoteRule(min_votes=3, min_share=0.6))
    feed(v, [(1, None, 0.5)] * 6 + [(1, "alex", 0.93)] + [(1, None, 0.5)] * 6)
    assert v.name(1) is None


def test_a_long_track_keeps_its_name_through_a_stray_frame():
    v = IdentityVotes()
    feed(v, [(7, "lin", 0.94)] * 20 + [(7, "alex", 0.93)] + [(7, "lin", 0.94)] * 5)
    assert v.name(7) == "lin"
    assert v.names(np.array([7, 8])).tolist() == ["lin", None]


def test_min_share_leaves_a_contested_track_unknown():
    v = IdentityVotes(VoteRule(min_votes=2, min_share=0.6))
    feed(v, [(1, "a", 0.9)] * 5 + [(1, "b", 0.9)] * 4)
    assert v.name(1) is None
    feed(v, [(1, "a", 0.9)] * 3)
    assert v.name(1) == "a"


def test_tracks_vote_apart_and_forget_drops_dead_tracks():
    v = IdentityVotes(VoteRule(min_votes=1))
    v.add(np.array([1, 2]), np.array(["a", "b"], dtype=object), None)
    assert v.names(np.array([1, 2])).tolist() == ["a", "b"]
    v.forget(np.array([2]))
    assert v.name(1) is None and v.name(2) == "b"


@pytest.mark.parametrize("votes, share", [(0, 0.5), (3, 0.0), (3, 1.5)])
def test_bad_rules_are_refused(votes, share):
    with pytest.raises(ValueError, match="min_votes"):
        VoteRule(votes, share)
