"""The demo: fresh synthetic frames of unseen subjects through a pretrained loop, error per iteration, figures."""

from __future__ import annotations

from pathlib import Path


def run_demo(name: str, frames: int, out: str | Path | None, shown: int = 4, force: bool = False) -> dict:
    """Runs zoo entry ``name`` on ``frames`` fresh frames; writes ``out/iterations.png``, the loop's steps on the
    first ``shown`` frames with their true poses (:func:`handloop.zoo.overlays.iterations_figure`); ``out`` None
    writes nothing.

    Raises:
        FileExistsError: ``out/iterations.png`` exists and not ``force`` (checked before any work).

    Returns:
        ``{"frames": N, "iterations": [{"iteration": k, "mean_mm": ..., "frac_max_20": ..., "frac_max_40": ...}]}``
        with iteration 0 the predictor alone.
    """
    import handloop
    from handloop.recipes.evaluate import iteration_errors, iteration_table
    from handloop.recipes.synth.generate import fresh_frames
    from handloop.zoo.api import Prediction
    from handloop.zoo.fileio import refuse_existing

    figure = None if out is None else Path(out) / "iterations.png"
    refuse_existing(figure, force=force)
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
        draw_iterations(singles, figure, model.config.cube_mm,
                        [data[i].intrinsics for i in picks], truths_xyz=[data[i].joints_xyz for i in picks],
                        name=model.name)
    return {"frames": frames, "iterations": [
        {"iteration": k, "mean_mm": round(float(row.mean_mm), 3), "frac_max_20": round(float(row.frac_max_20), 4),
         "frac_max_40": round(float(row.frac_max_40), 4)} for k, row in table.iterrows()]}
