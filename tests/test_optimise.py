"""The image-based optimisation baseline (issue 14) on a tiny random-weight loop: L-BFGS-B and PSO each lower the
image discrepancy from the predictor's start."""

import numpy as np
import pytest

from handloop.zoo.config import LoopConfig, LocalizerConfig, PredictorConfig, SynthesizerConfig, UpdaterConfig
from handloop.zoo.loops import build_networks

TINY = LoopConfig(
    localizer=LocalizerConfig(filters=(4, 4, 4), dense=(8,)),
    predictor=PredictorConfig(stem=4, stages=(8, 8, 8, 8), blocks=1, dense=(16,), bottleneck=6),
    synthesizer=SynthesizerConfig(dense=(16,), channels=4),
    updater=UpdaterConfig(filters=(4, 4, 4, 4), dense=(8,)),
)


@pytest.fixture(scope="module")
def objective():
    """(predictor, objective) of a random-weight tiny loop on crops that its synthesizer drew from known
    embeddings, so the discrepancy has a minimum of 0 away from the predictor's start."""
    import keras

    from handloop.recipes.optimise import ImageObjective, embedding_scale

    keras.utils.set_random_seed(3)
    nets = build_networks(TINY)
    predictor, synthesizer = nets["predictor"], nets["synthesizer"]
    pca = predictor.get_layer("pred_pca")
    scale = embedding_scale(np.asarray(pca.components), 0.2)
    targets = (np.random.default_rng(0).standard_normal((3, TINY.predictor.bottleneck)) * scale).astype(np.float32)
    crops = np.asarray(synthesizer(pca(targets)))
    return predictor, ImageObjective(predictor, synthesizer, crops, batch=16)


def test_start_is_the_predictors_bottleneck(objective):
    predictor, objective = objective
    start = objective.start()
    assert start.shape == (3, TINY.predictor.bottleneck)
    np.testing.assert_allclose(objective.poses(start), predictor.predict(objective.crops, verbose=0), atol=1e-5)


@pytest.mark.parametrize("frames_per_problem", [1, 2])
def test_lbfgs_lowers_the_discrepancy(objective, frames_per_problem):
    from handloop.recipes.optimise import lbfgs

    _, objective = objective
    trace = lbfgs(objective, iterations=4, frames_per_problem=frames_per_problem)
    assert trace.embeddings.shape == (5, 3, TINY.predictor.bottleneck) and trace.values.shape == (5, 3)
    np.testing.assert_allclose(trace.values[0], objective.values(objective.start()), rtol=1e-5)
    assert (trace.values[-1] < trace.values[0]).all()
    assert (np.diff(trace.seconds) >= 0).all() and trace.seconds[0] == 0


def test_pso_lowers_the_discrepancy_and_never_rises(objective):
    from handloop.recipes.optimise import pso

    _, objective = objective
    trace = pso(objective, iterations=4, particles=8, spread=0.2, seed=1)
    assert trace.values.shape == (5, 3)
    assert (np.diff(trace.values, axis=0) <= 0).all()  # the swarm best never gets worse
    assert (trace.values[-1] < trace.values[0]).all()
    np.testing.assert_allclose(trace.values[-1], objective.values(trace.embeddings[-1]), rtol=1e-5)


def test_embedding_scale_moves_joints_by_the_spread():
    from handloop.recipes.optimise import embedding_scale

    rng = np.random.default_rng(0)
    components = rng.standard_normal((6, 63))
    offsets = rng.standard_normal((20000, 6)) * embedding_scale(components, 0.1)
    moves = (offsets @ components).reshape(-1, 21, 3)
    assert np.sqrt((moves ** 2).sum(-1).mean()) == pytest.approx(0.1, rel=0.02)
