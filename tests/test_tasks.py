"""Every training task trains a few steps on tiny data and its loss falls."""

import numpy as np
import pytest

from conftest import blob_frames, on_one_batch
from handloop.recipes.config import StageConfig, recipe_from_dict
from handloop.recipes.train import tasks
from handloop.recipes.train.trainer import fit
from handloop.zoo.config import LoopConfig, LocalizerConfig, PredictorConfig, SynthesizerConfig, UpdaterConfig

CONFIG = LoopConfig(
    localizer=LocalizerConfig(filters=(4, 4, 4), dense=(32,), dropout=0.0),
    predictor=PredictorConfig(stem=8, stages=(32, 32, 32, 32), blocks=1, dense=(64,), dropout=0.0, bottleneck=8),
    synthesizer=SynthesizerConfig(dense=(64,), channels=4),
    updater=UpdaterConfig(filters=(4, 4, 4, 4), dense=(32,)),
)
STAGE = StageConfig(epochs=4, steps_per_epoch=6, batch_size=8, learning_rate=3e-3, decay=1.0)


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    return recipe_from_dict({"name": "tiny", "model": CONFIG.to_dict(), "workdir": str(tmp_path_factory.mktemp("runs")),
                             "data": {"shuffle_buffer": 32}})


def falls(task, tmp_path):
    import keras

    keras.utils.set_random_seed(0)
    result = fit(task, STAGE, tmp_path, progress=False)
    assert np.isfinite(result.losses).all()
    assert result.losses[-1] < result.losses[0], result.losses
    return result


def test_localizer_and_predictor_losses_fall(recipe, tmp_path):
    frames = blob_frames(32)
    falls(tasks.LocalizerTask(recipe, frames, CONFIG), tmp_path / "loc")
    result = falls(tasks.PredictorTask(recipe, frames, CONFIG), tmp_path / "pred")
    pca = result.model.get_layer("pred_pca")
    assert np.abs(np.asarray(pca.mean)).max() > 0  # the PCA prior was fitted, not left at its initial values


def test_synthesizer_grows_and_updater_loss_falls(recipe, tmp_path, monkeypatch):
    import keras

    monkeypatch.setattr(tasks.UpdaterTask, "buffer_size", 64)  # T_D's errors from 8 of the one-batch task's calls

    frames = blob_frames(32)
    first = falls(tasks.SynthesizerTask(recipe, frames, CONFIG, 0), tmp_path / "s8")
    grown = tasks.SynthesizerTask(recipe, frames, CONFIG, 1, first.weights_path).build_model()
    np.testing.assert_array_equal(grown.get_layer("synth_fc1").get_weights()[0],
                                  first.model.get_layer("synth_fc1").get_weights()[0])
    assert grown.output_shape == (None, 16, 16, 1)
    keras.utils.set_random_seed(0)
    predictor = tasks.PredictorTask(recipe, frames, CONFIG).build_model()
    from handloop.zoo.networks import build_synthesizer

    synthesizer = build_synthesizer(CONFIG.synthesizer, CONFIG.num_joints)
    stage = StageConfig(epochs=3, steps_per_epoch=8, batch_size=8, learning_rate=3e-3, decay=1.0)
    task = on_one_batch(tasks.UpdaterTask(recipe, frames, CONFIG, predictor, synthesizer))
    task.grow_every = 3  # compare losses on the initial T_D; growing it makes the task harder on purpose
    result = fit(task, stage, tmp_path / "upd", progress=False)
    assert result.losses[-1] < result.losses[0], result.losses
    assert int(task.grown.numpy()) == 1  # T_D grew after epoch 3
    assert np.abs(task.errors.numpy()).sum() > 0


@pytest.mark.parametrize("stages", [1, 4])
def test_synthesizer_trains_under_xla_like_without(recipe, tmp_path, stages):
    """The synthesizer stage trains with ``jit_compile`` (every op of its step, the target's averaging included,
    compiles) and its first step gives the same loss as without XLA."""
    import dataclasses

    frames = blob_frames(16)
    losses = [fit(tasks.SynthesizerTask(recipe, frames, CONFIG, stages), dataclasses.replace(
        STAGE, epochs=1, steps_per_epoch=1, jit_compile=jit), tmp_path / f"{stages}-{jit}", progress=False).losses[0]
        for jit in (False, True)]
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-4)
