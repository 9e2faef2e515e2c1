"""The demo: fresh synthetic frames of unseen subjects through a pretrained loop, error per iteration, figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np

DEMO_SEED = 424_242
"""Seed of the demo's subjects and poses: neither the training (1) nor the test (1001) seed of the recipes."""


def fresh_frames(count: int, cube_mm: float, seed: int = DEMO_SEED) -> list:
    """``count`` synthetic hand-only frames (:class:`handloop.recipes.records.Frame`) of subjects drawn from ``seed``."""
    from handloop.recipes.synth.generate import SynthSettings, shard_frames

    settings = SynthSettings(frames=count, seed=seed, cube_mm=cube_mm)
    return [frame for index in range(settings.shards) for frame in shard_frames(settings, index)]


def run_demo(name: str, frames: int, out: str | Path | None, shown: int = 4) -> dict:
    """Runs zoo entry ``name`` on ``frames`` fresh frames; writes overlays of ``shown`` frames under ``out``.

    Returns:
        ``{"frames": N, "iterations": [{"iteration": k, "mean_mm": ..., "frac_max_20": ..., "frac_max_40": ...}]}``
        with iteration 0 the predictor alone.
    """
    import handloop
    from handloop.recipes.evaluate import iteration_errors, iteration_table
    from handloop.zoo.api import Prediction

    model = handloop.load(name)
    data = fresh_frames(frames, model.config.cube_mm)
    errors, prediction = iteration_errors(model, data)
    table = iteration_table(errors)
    if out is not None:
        from handloop.zoo.overlays import draw_iterations

        picks = range(min(shown, frames))
        singles = [Prediction(**{k: getattr(prediction, k)[i] for k in ("joints_xyz", "joints_uvd", "iterations_xyz",
                                                                          "iterations_uvd", "center_uvd", "crop",
                                                                          "synth")}, joint_set=prediction.joint_set)
                   for i in picks]
        draw_iterations([data[i].depth_mm for i in picks], singles, Path(out) / "iterations.png",
                        truths=[data[i].joints_xyz for i in picks])
    return {"frames": frames, "iterations": [
        {"iteration": k, "mean_mm": round(float(row.mean_mm), 3), "frac_max_20": round(float(row.frac_max_20), 4),
         "frac_max_40": round(float(row.frac_max_40), 4)} for k, row in table.iterrows()]}
