"""A structured-light depth sensor's flaws, applied to a clean rendered depth window (numpy, mm, 0 = nothing).

1 mm quantisation; Gaussian noise growing with depth (``0.5 mm + 1.5e-6 z^2``); a band of missing depth beside
depth edges, on the side the projector cannot light (a shadow 1-4 px wide to the right of each near/far edge);
pixels along every silhouette missing at random (``edge_dropout``), and random dropout of single pixels.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class SensorConfig:
    """Noise and dropout settings (mm, pixels, probabilities)."""

    noise_base_mm: float = 0.5
    noise_quadratic: float = 1.5e-6
    edge_jump_mm: float = 20.0
    shadow_px: int = 4
    shadow_prob: float = 0.7
    edge_dropout: float = 0.3
    dropout: float = 0.005


def apply_sensor(depth: np.ndarray, rng: np.random.Generator, config: SensorConfig = SensorConfig()) -> np.ndarray:
    """Returns a noisy, quantised copy of ``depth`` ``(H, W)`` mm with shadow bands and dropout (0 = missing)."""
    hit = depth > 0
    noisy = depth + rng.normal(0, 1, depth.shape) * (config.noise_base_mm + config.noise_quadratic * depth**2)
    noisy = np.where(hit, np.rint(noisy), 0.0)
    far = np.where(hit, depth, 1e9)
    # Left neighbour much nearer than this pixel (or this pixel off the object): this pixel is shadowed.
    edge = np.zeros_like(hit)
    edge[:, 1:] = (far[:, 1:] - far[:, :-1] > config.edge_jump_mm) & hit[:, :-1]
    width = rng.integers(1, config.shadow_px + 1)
    shadow = np.zeros_like(hit)
    for k in range(width):
        shadow[:, k:] |= edge[:, : edge.shape[1] - k]
    # Silhouette: a hit pixel with a 4-neighbour that is empty or more than edge_jump_mm farther.
    padded = np.pad(far, 1, constant_values=1e9)
    neighbours = np.stack([padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]])
    silhouette = hit & (neighbours - far > config.edge_jump_mm).any(0)
    draw = rng.uniform(size=depth.shape)
    drop = ((shadow & (draw < config.shadow_prob)) | (silhouette & (draw < config.edge_dropout))
            | (rng.uniform(size=depth.shape) < config.dropout))
    return np.where(drop, 0.0, noisy).astype(np.float32)
