"""The report: the paper's stored numbers, ours beside them, rliable aggregates, curves aligned by step."""

import pytest

from xql_jax import paper_results


def test_stored_paper_numbers_match_the_paper():
    # Read from the paper's text (ICLR 2023 camera-ready), Table 1: locomotion, AntMaze, Kitchen.
    hopper_mr = paper_results.TABLE_1["hopper-medium-replay-v2"]
    assert (hopper_mr["IQL"], hopper_mr["X-QL C"], hopper_mr["X-QL T"]) == (94.7, 97.3, 100.7)
    assert paper_results.TABLE_1["halfcheetah-medium-v2"]["BC"] == 42.6
    assert paper_results.TABLE_1["walker2d-medium-expert-v2"]["Onestep RL"] == 113.0
    assert paper_results.TABLE_1["antmaze-umaze-diverse-v0"]["X-QL C"] == 69.17
    assert paper_results.TABLE_1["antmaze-large-play-v0"]["X-QL C"] == 41.0
    assert paper_results.TABLE_1["antmaze-medium-play-v0"]["CQL"] == 61.2
    kitchen = paper_results.TABLE_1["kitchen-partial-v0"]
    assert (kitchen["X-QL C"], kitchen["X-QL T"], kitchen["DT"]) == (73.8, 73.7, None)
    assert paper_results.TABLE_1_RUNTIME["DT"] == "960m"
    # Table 2: Adroit.
    assert paper_results.TABLE_2["pen-human-v0"]["X-QL C"] == 85.5
    assert paper_results.TABLE_2["pen-human-v0"]["BEAR"] == -1.0
    assert paper_results.TABLE_2["relocate-human-v0"]["X-QL T"] == 0.24
    assert paper_results.TABLE_2["pen-cloned-v0"]["Onestep RL"] == 60.0
    assert paper_results.TABLE_2["hammer-human-v0"]["Onestep RL"] is None
    # Table 3: fine-tuning, (offline, online).
    assert paper_results.TABLE_3["antmaze-large-diverse-v0"]["X-QL T"] == (49.0, 82.1)
    assert paper_results.TABLE_3["antmaze-medium-play-v0"]["IQL"] == (72.0, 95.0)
    assert paper_results.TABLE_3["antmaze-large-play-v0"]["CQL"] == (1.0, 0.0)
    assert {d: len(n) for d, n in paper_results.DOMAINS.items()} == {
        "locomotion": 9,
        "antmaze": 6,
        "kitchen": 3,
        "adroit": 8,
    }
    # What the paper does not give stays absent: no total rows, no DM Control numbers.
    assert paper_results.PAPER_AVERAGE_ROWS == {}
    assert paper_results.ONLINE_DM_CONTROL["numbers"] is None
    assert paper_results.paper_domain_mean("kitchen", "X-QL C") == pytest.approx((72.5 + 73.8 + 54.6) / 3)
    assert paper_results.paper_domain_mean("kitchen", "10%BC") is None
    assert paper_results.column_for("gumbel") == "X-QL C" and paper_results.column_for("iql", True) == "IQL"
