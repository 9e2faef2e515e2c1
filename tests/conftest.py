"""Shared test fixtures: paths to the published NYU files and quiet TensorFlow."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")

PUBLISHED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "published"


@pytest.fixture(scope="session")
def published() -> Path:
    """Folder of the real NYU labels and published result files (../shared/data/published)."""
    if not PUBLISHED.is_dir():
        pytest.skip(f"published NYU files not found at {PUBLISHED}")
    return PUBLISHED
