"""The accuracy-latency frontier's tables (issue 14) on made-up timings: joins, frontier flags, attained rates."""

import math

import pytest

from handloop.export.frontier import cost_table, frontier_table, point_name, summary

ERRORS = [{"entry": "big", "iterations": n, "mean_mm": mm} for n, mm in ((0, 36.0), (1, 32.0), (2, 32.5))] + [
    {"entry": "small", "iterations": 0, "mean_mm": 40.0}]
LATENCIES = [{"entry": e, "iterations": n, "runtime": runtime, "latency_ms": ms * (1 if runtime == "onnx" else 2)}
             for e, n, ms in (("big", 0, 2.0), ("big", 1, 3.0), ("big", 2, 4.0), ("small", 0, 1.0))
             for runtime in ("keras", "onnx")]


def test_frontier_table_joins_and_flags_the_frontier():
    table = frontier_table(ERRORS, LATENCIES)
    assert list(table.columns) == ["entry", "point", "iterations", "mean_mm", "keras_ms", "onnx_ms",
                                   "keras_frontier", "onnx_frontier"]
    assert list(table.point) == ["predictor", "1 iteration", "2 iterations", "predictor"]
    assert list(table.onnx_ms) == [2.0, 3.0, 4.0, 1.0] and list(table.keras_ms) == [4.0, 6.0, 8.0, 2.0]
    # 2 iterations is slower and less accurate than 1: off the frontier; the rest are on it
    assert list(table.onnx_frontier) == [True, True, False, True] == list(table.keras_frontier)
    lines = summary(table, "big")
    assert len(lines) == 2 and "1 iteration (36.00 -> 32.00 mm, 11.1 % lower) for +1.00 ms (+50 %" in lines[1]


def test_cost_table_attained_rates():
    macs = {"localizer": 1e6, "predictor": 4e6, "synthesizer": 10e6, "updater": 5e6}
    networks = [{"network": "predictor", "runtime": "onnx", "latency_ms": 0.5}]
    loops = [{"entry": "big", "iterations": 1, "runtime": "onnx", "latency_ms": 2.0}]
    table = cost_table(macs, networks, loops, peak_gflops=100.0).set_index("item")
    assert table.mmacs["predictor"] == 4.0 and table.mmacs["loop, 1 iteration"] == 20.0
    assert table.onnx_gflops["predictor"] == pytest.approx(16.0)  # 8 MFLOP in 0.5 ms
    assert table.onnx_gflops["loop, 1 iteration"] == pytest.approx(20.0)
    assert table.onnx_of_peak["loop, 1 iteration"] == pytest.approx(0.2)
    assert point_name(3) == "3 iterations" and not math.isnan(table.onnx_ms["predictor"])
