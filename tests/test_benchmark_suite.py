"""The benchmark suite's statistics: the per-round head-to-head table and its sign test."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
import suite  # noqa: E402


def test_sign_test_is_the_binomial_tail_of_a_fair_coin():
    assert suite.sign_test(5, 5) == pytest.approx(1 / 32)
    assert suite.sign_test(4, 5) == pytest.approx(6 / 32)
    assert suite.sign_test(0, 7) == pytest.approx(1.0)
    assert suite.sign_test(12, 15) == pytest.approx(576 / 32768)


def rounds(*per_step):
    return [{"per_step": t, "best": t, "peak_rss_mb": 100.0} for t in per_step]


def test_head_to_head_pairs_rounds_and_counts_wins():
    runs = {
        "ideal": rounds(1.0, 1.0, 1.0, 1.0, 1.0),
        # Drift makes round 3 slow for everyone: only pairing within rounds sees kerasish ahead.
        "kerasish_tensor": rounds(1.0, 1.1, 3.0, 1.0, 1.3),
        "ignite": rounds(1.1, 1.2, 3.3, 0.9, 1.4),
        "poutyne": "not installed",
    }
    lines = suite.head_to_head(runs, list(runs))
    assert lines[0].startswith("Head to head over 5 rounds")
    assert lines[2] == "| contender | ignite |"
    # ratios 0.909, 0.917, 0.909, 1.111, 0.929: 4 wins, median 0.917
    assert lines[4] == "| kerasish_tensor | 4/5 (p=0.188), 0.917 |"


def test_head_to_head_needs_two_rounds_a_peer_and_a_kerasish_row():
    assert suite.head_to_head({"kerasish_array": rounds(1.0), "ignite": rounds(2.0)},
                              ["kerasish_array", "ignite"]) == []
    assert suite.head_to_head({"kerasish_array": rounds(1.0, 1.0), "ideal": rounds(2.0, 2.0)},
                              ["kerasish_array", "ideal"]) == []
