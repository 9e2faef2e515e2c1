"""The generic training loop: loss falls, exact resume after a crash, and MirroredStrategy on two CPUs."""

import numpy as np
import pytest
import tensorflow as tf

from conftest import blob_frames
from handloop.recipes.config import AugmentConfig, StageConfig
from handloop.recipes.pipeline import training_dataset
from handloop.recipes.train.trainer import Task, fit, recalibrate_batchnorm

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2
)


class OffsetTask(Task):
    """A tiny network regressing the localizer offset: stands in for any task."""

    name = "offset"

    def build_model(self):
        import keras

        keras.utils.set_random_seed(0)
        x = keras.Input((128, 128, 1))
        y = keras.layers.Conv2D(4, 5, strides=4, activation="relu")(x)
        y = keras.layers.Flatten()(keras.layers.MaxPooling2D(4)(y))
        y = keras.layers.Dropout(0.2)(keras.layers.Dense(16, activation="relu")(y))
        return keras.Model(x, keras.layers.Dense(3)(y))

    def build_inputs(self, batch_size):
        frames = blob_frames(32).shuffle(32, seed=3, reshuffle_each_iteration=True)
        return training_dataset(frames, AugmentConfig(), batch_size, seed=3, reference_joint=5, localizer=True)

    def per_example_loss(self, model, batch):
        return tf.reduce_sum(tf.square(model(batch["crop"], training=True) - batch["offset"]), -1)


STAGE = StageConfig(epochs=3, batch_size=8, learning_rate=3e-3, decay=0.9)


def test_loss_falls_and_weights_written(tmp_path):
    result = fit(OffsetTask(), STAGE, tmp_path, steps_per_epoch=12, progress=False)
    assert result.losses[-1] < result.losses[0]
    assert result.weights_path.is_file()
    assert list((tmp_path / "tb").rglob("events.*"))


def test_resume_after_crash_matches_uninterrupted(tmp_path):
    whole = fit(OffsetTask(), STAGE, tmp_path / "whole", steps_per_epoch=6, progress=False)
    fit(OffsetTask(), STAGE, tmp_path / "crash", steps_per_epoch=6, progress=False, stop_after_steps=9)  # mid-epoch 2
    resumed = fit(OffsetTask(), STAGE, tmp_path / "crash", steps_per_epoch=6, progress=False)
    for a, b in zip(whole.model.weights, resumed.model.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_mirrored_strategy_on_two_cpus(tmp_path):
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    result = fit(OffsetTask(), STAGE, tmp_path, strategy=strategy, steps_per_epoch=6, progress=False)
    assert np.isfinite(result.losses).all() and result.losses[-1] < result.losses[0]


class LocalizerOffsetTask(OffsetTask):
    """The same task with a (tiny) zoo localizer, whose output layer computes in float32 under any policy."""

    def build_model(self):
        from handloop.zoo.config import LocalizerConfig
        from handloop.zoo.networks import build_localizer

        return build_localizer(LocalizerConfig(filters=(4, 4, 4), dense=(16,)))


def test_mixed_bfloat16_computes_in_bfloat16_with_float32_weights_and_outputs(tmp_path):
    import dataclasses

    import keras

    result = fit(LocalizerOffsetTask(), dataclasses.replace(STAGE, precision="mixed_bfloat16"), tmp_path,
                 steps_per_epoch=6, progress=False)
    assert keras.mixed_precision.global_policy().name == "float32"  # restored after building
    assert result.model.get_layer("loc_conv1").compute_dtype == "bfloat16"
    assert {w.dtype for w in result.model.weights} == {"float32"} and result.model.output.dtype == "float32"
    assert np.isfinite(result.losses).all() and result.losses[-1] < result.losses[0]


class WiderOffsetTask(OffsetTask):
    """The same task with another network: its checkpoints cannot be resumed by OffsetTask."""

    def build_model(self):
        import keras

        x = keras.Input((128, 128, 1))
        y = keras.layers.Flatten()(keras.layers.MaxPooling2D(8)(x))
        return keras.Model(x, keras.layers.Dense(3)(keras.layers.Dense(7)(y)))


def test_resume_with_another_model_fails_clearly(tmp_path):
    fit(WiderOffsetTask(), STAGE, tmp_path, steps_per_epoch=2, progress=False, stop_after_steps=3)
    with pytest.raises(ValueError, match="cannot resume offset .* does not match"):
        fit(OffsetTask(), STAGE, tmp_path, steps_per_epoch=2, progress=False)


def test_pipeline_views_per_frame_and_determinism():
    """Several views of one decoded frame: each its own augmentation and seed; the stream is the same every run."""
    config = AugmentConfig(views_per_frame=2)
    frames = blob_frames(4)

    def first(batch_size):
        return next(iter(training_dataset(frames, config, batch_size, seed=3, reference_joint=5)))

    batch = first(4)
    np.testing.assert_array_equal(batch["seed"].numpy(), [[4, 0], [4, 1], [4, 2], [4, 3]])
    # views 0 and 1 come from frame 0: same true joints, different crops; views 2 and 3 from frame 1
    assert not np.allclose(batch["crop"][0], batch["crop"][1])
    assert not np.allclose(batch["pose"][0], batch["pose"][2])
    again = first(4)
    for key in ("crop", "pose", "seed"):
        np.testing.assert_array_equal(batch[key].numpy(), again[key].numpy())


class NormTask(Task):
    """A network whose first layer normalises its 4 inputs: the BatchNorm statistics are those of the inputs, three
    batches of 8 with different means and spreads."""

    batches = [{"x": (np.random.default_rng(k).normal(size=(8, 4)) * (k + 1) + 10 * k).astype("float32")}
               for k in range(3)]

    def build_model(self):
        import keras

        x = keras.Input((4,))
        return keras.Model(x, keras.layers.Dense(1)(keras.layers.BatchNormalization(momentum=0.99)(x)))

    def build_inputs(self, batch_size):
        return tf.data.Dataset.from_tensor_slices({"x": np.stack([b["x"] for b in self.batches])}).repeat()

    def per_example_loss(self, model, batch):
        return tf.reduce_sum(model(batch["x"], training=True), -1)


@pytest.mark.parametrize("devices", [None, ["/cpu:0", "/cpu:1"]])
def test_recalibrate_batchnorm_averages_the_batch_statistics(devices):
    strategy = tf.distribute.MirroredStrategy(devices) if devices else tf.distribute.get_strategy()
    batches = NormTask.batches
    with strategy.scope():
        model = NormTask().build_model()
    weights = [np.asarray(w) for w in model.trainable_weights]
    assert recalibrate_batchnorm(NormTask(), model, 8, strategy, count=3) == 3
    norm = model.layers[1]
    seen = [b["x"][:4] if devices else b["x"] for b in batches]  # Keras keeps the first replica's statistics
    np.testing.assert_allclose(np.asarray(norm.moving_mean), np.mean([x.mean(0) for x in seen], 0), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(norm.moving_variance), np.mean([x.var(0) for x in seen], 0), rtol=1e-4)
    assert norm.momentum == 0.99
    for before, after in zip(weights, model.trainable_weights):
        np.testing.assert_array_equal(before, np.asarray(after))
    assert recalibrate_batchnorm(OffsetTask(), OffsetTask().build_model(), 8, strategy) == 0  # no BatchNorm
