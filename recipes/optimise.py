"""Model-based refinement through the synthesizer: the baseline the learned updater is measured against.

The paper (docs/method.md section 8) compares its updater with optimising the pose on the image: starting from the
predictor's pose, minimise the discrepancy between the synthesizer's image of the pose and the input crop. Here
the pose is parametrised by the predictor's own bottleneck, the ``K``-d embedding ``z`` that the fixed PCA layer
``pred_pca`` maps to joints (``pose = z @ components + mean``, cube units), so every candidate is a pose of the
prior. Per frame the objective is

    d(z) = mean over pixels of (synthesizer(PCA(z)) - crop)^2

in squared normalised-depth units (crops and images lie in [-1, 1]), the paper's ``||D - synth(p)||^2`` divided by
the pixel count. :func:`lbfgs` minimises it with L-BFGS-B (SciPy), gradients by ``tf.GradientTape`` through the
synthesizer; :func:`pso` with a particle swarm. Both return a :class:`Trace` of every iteration.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

PSO_INERTIA = 0.7298
"""PSO inertia weight: Clerc and Kennedy's constriction coefficient (IEEE TEC 2002), stable without velocity
clamping."""
PSO_ACCELERATION = 1.49618
"""PSO cognitive and social acceleration coefficients, both (constriction ``0.7298 x 2.05``)."""


@dataclasses.dataclass
class Trace:
    """An optimisation of F frames' embeddings, recorded after each iteration (index 0: the start).

    Attributes:
        embeddings: ``(T + 1, F, K)`` each frame's best embedding after each iteration.
        values: ``(T + 1, F)`` the image discrepancy of those embeddings (squared normalised depth).
        seconds: ``(T + 1,)`` wall seconds spent on all F frames up to each iteration (0 at the start).
    """

    embeddings: np.ndarray
    values: np.ndarray
    seconds: np.ndarray


@dataclasses.dataclass
class LoopStart:
    """A loop's run on test frames, in the cube units of each frame's crop (the optimisers' frame).

    Attributes:
        crops: ``(F, S, S, 1)`` the normalised input crops.
        poses: ``(F, N + 1, J, 3)`` the learned loop's poses after the predictor (0) and each iteration.
        truth: ``(F, J, 3)`` the true joints.
        cube_mm: the cube side: 1 cube unit is ``cube_mm / 2`` mm.
    """

    crops: np.ndarray
    poses: np.ndarray
    truth: np.ndarray
    cube_mm: float

    def errors_mm(self, poses: np.ndarray) -> np.ndarray:
        """``(F, J, 3)`` poses in cube units -> ``(F, J)`` 3D joint errors in mm."""
        from handloop.zoo.metrics import joint_errors

        return joint_errors(poses * self.cube_mm / 2, self.truth * self.cube_mm / 2)


def loop_start(model, frames: list, batch: int = 16) -> LoopStart:
    """Runs ``model`` (a :class:`handloop.zoo.api.HandPoseModel`) on ``frames``
    (:class:`handloop.recipes.records.Frame`, one camera) and expresses their truth in each crop's cube units."""
    outputs = []
    camera = frames[0].intrinsics
    for first in range(0, len(frames), batch):
        chunk = frames[first:first + batch]
        out = model.run_graph(np.stack([f.depth_mm for f in chunk])[..., None],
                              np.tile(camera.as_array(), (len(chunk), 1)))
        outputs.append({k: out[k] for k in ("crop", "poses", "iterations_xyz")})
    out = {k: np.concatenate([o[k] for o in outputs]) for k in outputs[0]}
    truth_xyz = np.stack([f.joints_xyz for f in frames]) @ camera.axes  # the graph's OpenCV axes
    half = model.config.cube_mm / 2  # xyz = pose * half + centre, for the truth as for the predictor's pose
    truth = out["poses"][:, 0] + (truth_xyz - out["iterations_xyz"][:, 0]) / half
    return LoopStart(out["crop"], out["poses"], truth, model.config.cube_mm)


class ImageObjective:
    """The image discrepancy ``d(z)`` of a loop's synthesizer against F input crops (see the module's note).

    Args:
        predictor: the loop's predictor (its ``pred_embedding`` output is the start, its ``pred_pca`` layer maps
            embeddings to poses).
        synthesizer: the loop's synthesizer, pose ``(B, J, 3)`` cube units -> image ``(B, S, S, 1)``.
        crops: ``(F, S, S, 1)`` normalised input crops (the loop's ``crop`` output).
        batch: most images the synthesizer renders in one call.
    """

    def __init__(self, predictor, synthesizer, crops: np.ndarray, batch: int = 512):
        import keras
        import tensorflow as tf

        self.crops = np.asarray(crops, np.float32)
        self.batch = batch
        self.pca = predictor.get_layer("pred_pca")
        self._embed = keras.Model(predictor.inputs, predictor.get_layer("pred_embedding").output)

        def image_discrepancy(poses, crops):  # poses (n, P, J, 3), crops (n, S, S, 1) -> (n, P)
            shape = tf.shape(poses)
            images = synthesizer(tf.reshape(poses, tf.concat([[-1], shape[2:]], 0)), training=False)
            images = tf.reshape(images, tf.concat([shape[:2], tf.shape(images)[1:]], 0))
            return tf.reduce_mean(tf.square(images - crops[:, None]), axis=(2, 3, 4))

        def discrepancy(z, crops):  # z (n, P, K) -> (n, P)
            shape = tf.shape(z)
            poses = self.pca(tf.reshape(z, (-1, shape[2])))
            return image_discrepancy(tf.reshape(poses, tf.concat([shape[:2], tf.shape(poses)[1:]], 0)), crops)

        def with_gradient(z, crops):
            with tf.GradientTape() as tape:
                tape.watch(z)
                values = discrepancy(z, crops)
                total = tf.reduce_sum(values)
            return values, tape.gradient(total, z)

        self._values = tf.function(discrepancy, reduce_retracing=True)
        self._pose_values = tf.function(image_discrepancy, reduce_retracing=True)
        self._with_gradient = tf.function(with_gradient, reduce_retracing=True)

    @property
    def components(self) -> np.ndarray:
        """``(K, 3J)`` the PCA layer's components (cube units per unit of embedding)."""
        return np.asarray(self.pca.components)

    def start(self) -> np.ndarray:
        """``(F, K)`` the predictor's embeddings of the crops: where the optimisers start."""
        return np.asarray(self._embed.predict(self.crops, batch_size=64, verbose=0), np.float64)

    def poses(self, z: np.ndarray) -> np.ndarray:
        """``(..., K)`` embeddings -> ``(..., J, 3)`` poses in cube units."""
        z = np.asarray(z, np.float32)
        return np.asarray(self.pca(z.reshape(-1, z.shape[-1]))).reshape(*z.shape[:-1], -1, 3)

    def values(self, z: np.ndarray, frames: np.ndarray | None = None) -> np.ndarray:
        """``d`` of ``z`` ``(n, K)`` or ``(n, P, K)`` (P candidates per frame) against the crops of ``frames``
        ``(n,)`` indices (None: all F in order); returns ``(n,)`` or ``(n, P)``, rendering at most ``batch``
        images a call."""
        return self._batched(self._values, z, 2, frames)

    def pose_values(self, poses: np.ndarray, frames: np.ndarray | None = None) -> np.ndarray:
        """The image discrepancy of any poses, ``(n, J, 3)`` or ``(n, P, J, 3)`` cube units (e.g. the learned
        loop's, which leave the PCA prior), like :meth:`values`."""
        return self._batched(self._pose_values, poses, 3, frames)

    def _batched(self, function, x: np.ndarray, single_ndim: int, frames: np.ndarray | None) -> np.ndarray:
        x = np.asarray(x, np.float32)
        single = x.ndim == single_ndim
        x = x[:, None] if single else x
        frames = np.arange(len(x)) if frames is None else np.asarray(frames)
        step = max(1, self.batch // x.shape[1])
        values = np.concatenate([function(x[i:i + step], self.crops[frames[i:i + step]])
                                 for i in range(0, len(x), step)])
        return values[:, 0] if single else values

    def values_and_gradients(self, z: np.ndarray, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``d`` of ``z`` ``(n, K)`` against the crops of ``frames`` ``(n,)``, and its gradient ``(n, K)`` (each
        frame's ``d`` depends on its own embedding only), in one synthesizer call."""
        values, gradients = self._with_gradient(np.asarray(z, np.float32)[:, None],
                                                self.crops[frames])
        return np.asarray(values)[:, 0], np.asarray(gradients)[:, 0]


def lbfgs(objective: ImageObjective, iterations: int, frames_per_problem: int = 1) -> Trace:
    """L-BFGS-B (``scipy.optimize.minimize``, unbounded) from the predictor's embeddings, ``iterations`` at most.

    Frames are optimised in groups of ``frames_per_problem``: each group is one problem whose objective is the sum of
    its frames' ``d`` and whose gradient is block-diagonal (one synthesizer call evaluates the group). With 1,
    every frame is its own problem (exact per-frame L-BFGS, batch 1); larger groups amortise the call but share
    the line search and the curvature memory. The clock starts after one untimed call (tracing). Tolerances are
    0, so a problem stops only after ``iterations`` or when its line search fails; it then keeps its last embedding
    for the remaining rows of the trace.
    """
    from scipy.optimize import minimize

    start = objective.start()
    count, dim = start.shape
    embeddings = np.repeat(start[None], iterations + 1, 0)
    seconds = np.zeros(iterations + 1)
    objective.values_and_gradients(start[:frames_per_problem], np.arange(min(frames_per_problem, count)))  # trace
    for first in range(0, count, frames_per_problem):
        frames = np.arange(first, min(first + frames_per_problem, count))

        def fun(x, frames=frames):
            values, gradients = objective.values_and_gradients(x.reshape(len(frames), dim), frames)
            return float(values.sum()), gradients.reshape(-1).astype(np.float64)

        history, times = [start[frames]], [0.0]
        begin = time.perf_counter()
        minimize(fun, start[frames].reshape(-1), jac=True, method="L-BFGS-B",
                 callback=lambda x: (history.append(x.reshape(-1, dim)), times.append(time.perf_counter() - begin)),
                 options={"maxiter": iterations, "ftol": 0.0, "gtol": 0.0})
        stopped = len(history)
        history += [history[-1]] * (iterations + 1 - stopped)
        times += [times[-1]] * (iterations + 1 - stopped)
        embeddings[:, frames] = np.stack(history)
        seconds += np.array(times)
    return Trace(embeddings, objective.values(embeddings.reshape(-1, dim), np.tile(np.arange(count), iterations + 1))
                 .reshape(iterations + 1, count), seconds)


def embedding_scale(components: np.ndarray, spread: float) -> np.ndarray:
    """``(K,)`` standard deviations of random embedding offsets that move the joints by ``spread`` (cube units)
    root-mean-square: component ``k`` (row of ``(K, 3J)`` ``components``) gets ``spread sqrt(J / K) / |c_k|``, so
    each contributes equally and the expected mean squared joint displacement is ``spread^2``."""
    joints = components.shape[1] // 3
    return spread * np.sqrt(joints / len(components)) / np.linalg.norm(components, axis=1)


def pso(objective: ImageObjective, iterations: int, particles: int = 32, spread: float = 0.1, seed: int = 0,
        inertia: float = PSO_INERTIA, acceleration: float = PSO_ACCELERATION) -> Trace:
    """Global-best particle swarm optimisation of each frame's embedding, from the predictor's.

    Each frame has its own swarm of ``particles``: the predictor's embedding and ``particles - 1`` around it
    (:func:`embedding_scale` offsets moving the joints by ``spread`` cube units RMS), velocities 0. An iteration
    evaluates every particle (iteration 1: the initial swarm; all frames' swarms in :class:`ImageObjective`'s
    batches; the clock starts after one untimed call), updates the personal and swarm bests, then moves the particles:
    ``v = inertia v + acceleration (r1 (personal - x) + r2 (best - x))``, ``x += v``, with r1, r2 uniform per
    coordinate. Since the start is a particle, a frame's best never gets worse than the start.

    A short vectorised implementation rather than a library: the PSO packages on PyPI solve one problem at a time
    (``pyswarms``, last released 2021, is unmaintained; ``pymoo`` and ``nevergrad`` are maintained but would run
    the frames' problems one after another), while here all frames' swarms share each synthesizer call.
    """
    rng = np.random.default_rng(seed)
    start = objective.start()
    count, dim = start.shape
    positions = start[:, None] + rng.standard_normal((count, particles, dim)) * embedding_scale(
        objective.components, spread)
    positions[:, 0] = start
    velocities = np.zeros_like(positions)
    personal, personal_values = positions.copy(), np.full((count, particles), np.inf)
    embeddings, values = [start], [objective.values(start)]
    seconds = [0.0]
    objective.values(positions[:1])  # trace the swarm's shape before the clock starts
    begin = time.perf_counter()
    for iteration in range(1, iterations + 1):
        current = objective.values(positions)
        better = current < personal_values
        personal[better], personal_values[better] = positions[better], current[better]
        best = personal_values.argmin(1)
        swarm_best = personal[np.arange(count), best]
        embeddings.append(swarm_best)
        values.append(personal_values[np.arange(count), best])
        seconds.append(time.perf_counter() - begin)
        if iteration < iterations:
            r1, r2 = rng.random(positions.shape), rng.random(positions.shape)
            velocities = inertia * velocities + acceleration * (r1 * (personal - positions)
                                                                + r2 * (swarm_best[:, None] - positions))
            positions = positions + velocities
    return Trace(np.stack(embeddings), np.stack(values), np.array(seconds))
