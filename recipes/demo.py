"""The demo: fresh synthetic frames of unseen subjects through a pretrained loop, error per iteration, figures."""

from __future__ import annotations

from pathlib import Path


def run_demo(name: str, frames: int, out: str | Path | None, shown: int = 4, force: bool = False) -> dict:
    """Runs zoo entry ``name`` on ``frames`` fresh frames (hand-object frames of its object for a hand-object
    entry); writes ``out/iterations.png``, the loop's steps on the first ``shown`` frames with their true poses
    (:func:`handloop.zoo.overlays.iterations_figure`; a hand-object entry's with the object's box); ``out`` None
    writes nothing.

    Raises:
        FileExistsError: ``out/iterations.png`` exists and not ``force`` (checked before any work).

    Returns:
        ``{"frames": N, "iterations": [{"iteration": k, "mean_mm": ..., "frac_max_20": ..., "frac_max_40": ...}]}``
        with iteration 0 the predictor alone; a hand-object entry's rows also hold ``object_mm`` (mean box-corner
        error) and ``hand_object_mm`` (eq. 23), mm (:func:`handloop.recipes.evaluate.object_errors`).
    """
    import handloop
    from handloop.recipes.evaluate import iteration_errors, iteration_table, object_errors
    from handloop.recipes.synth.generate import fresh_frames
    from handloop.zoo.api import Prediction
    from handloop.zoo.fileio import refuse_existing

    figure = None if out is None else Path(out) / "iterations.png"
    refuse_existing(figure, force=force)
    model = handloop.load(name)
    data = fresh_frames(frames, model.config.cube_mm, objects=model.config.object or "none")
    errors, prediction = iteration_errors(model, data)
    table = iteration_table(errors, object_errors(prediction, data) if model.config.object else None)
    if out is not None:
        from handloop.zoo.overlays import draw_iterations

        picks = range(min(shown, frames))
        singles = [Prediction(**{k: None if v is None else v[i] for k, v in vars(prediction).items()
                                 if k != "joint_set"}, joint_set=prediction.joint_set) for i in picks]
        draw_iterations(singles, figure, model.config.cube_mm,
                        [data[i].intrinsics for i in picks], truths_xyz=[data[i].joints_xyz for i in picks],
                        name=model.name,
                        truth_corners_xyz=[data[i].corners_xyz for i in picks] if model.config.object else None)
    columns = [c for c in ("mean_mm", "frac_max_20", "frac_max_40", "object_mm", "hand_object_mm") if c in table]
    return {"frames": frames, "iterations": [
        {"iteration": k, **{c: round(float(row[c]), 4) for c in columns}} for k, row in table.iterrows()]}
