"""How the pages word a length of time (run durations, a trailer's preprocessing time limit)."""

from __future__ import annotations

import pytest

from trailers.words import duration


@pytest.mark.parametrize(("seconds", "words"), [
    (None, "—"), (0.4, "0 s"), (45, "45 s"), (185, "3 min 5 s"), (840, "14 min"), (7440, "2 h 4 min"), (7200, "2 h"),
    (7229.6, "2 h"),  # 2 h 30 s: no seconds beside hours
])
def test_a_length_of_time_in_words_without_empty_units(seconds, words):
    assert duration(seconds) == words
