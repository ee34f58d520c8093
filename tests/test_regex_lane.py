"""RegexLane: results and exceptions come back to the caller; the lane survives pickling."""

from __future__ import annotations

import gc
import pickle
import threading

import polars as pl
import pytest

from corpuskit.text.regex_lane import RegexLane


def test_runs_on_its_own_thread_and_returns_the_result():
    lane = RegexLane()
    texts = pl.Series(["call 555-123-4567 now", "", None, "no number"])
    got = lane.run(lambda t: t.str.count_matches(r"\d{3}-\d{3}-\d{4}"), texts)
    assert got.to_list() == texts.str.count_matches(r"\d{3}-\d{3}-\d{4}").to_list()
    assert lane.run(threading.get_ident) != threading.get_ident()
    assert lane.run(threading.get_ident) == lane.run(threading.get_ident)


def test_exceptions_are_raised_in_the_caller():
    lane = RegexLane()
    with pytest.raises(ZeroDivisionError):
        lane.run(lambda: 1 / 0)
    assert lane.run(lambda: 2) == 2  # the thread goes on


def test_pickled_lane_starts_its_own_thread_and_a_collected_one_ends():
    lane = RegexLane()
    first = lane.run(threading.get_ident)
    copy = pickle.loads(pickle.dumps(lane))
    assert copy.run(threading.get_ident) != first
    before = threading.active_count()
    del lane, copy
    gc.collect()
    for _ in range(100):
        if threading.active_count() <= before - 2:
            break
        threading.Event().wait(0.01)
    assert threading.active_count() <= before - 2
