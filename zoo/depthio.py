"""Reading depth frames from disk, in millimetres: 16-bit PNG, NYU's 3-channel PNG, numpy ``.npy``, MSRA ``.bin``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

MSRA_FRAME = (240, 320)
"""Frame size an MSRA15 ``.bin`` depth box is pasted into, pixels (H, W)."""


def read_png(path: Path) -> np.ndarray:
    """A 16-bit single-channel PNG (mm) or NYU's RGB PNG (mm = G * 256 + B) -> ``(H, W)`` float32 mm."""
    try:
        with Image.open(path) as image:
            image.load()
            array = np.asarray(image)
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(f"{path}: not a readable PNG ({error})") from None
    if array.ndim == 3 and array.shape[2] >= 3:
        return (array[..., 1].astype(np.float32) * 256 + array[..., 2]).astype(np.float32)
    if array.ndim == 2:
        return array.astype(np.float32)
    raise ValueError(f"{path}: expected a 16-bit depth PNG or NYU's 3-channel PNG, got shape {array.shape}")


def read_msra_bin(path: Path) -> np.ndarray:
    """An MSRA15 ``.bin``: 6 int32 (width, height, left, top, right, bottom) then float32 depth of the box,
    pasted into a zero 320x240 frame -> ``(240, 320)`` float32 mm."""
    raw = path.read_bytes()
    if len(raw) < 24:
        raise ValueError(f"{path}: truncated MSRA .bin ({len(raw)} bytes, the header alone is 24)")
    width, height, left, top, right, bottom = np.frombuffer(raw[:24], np.int32)
    if (width, height) != MSRA_FRAME[::-1] or not (0 <= left < right <= width and 0 <= top < bottom <= height):
        raise ValueError(f"{path}: bad MSRA header (width {width}, height {height}, box {left},{top},{right},{bottom})")
    count = (right - left) * (bottom - top)
    if len(raw) != 24 + 4 * count:
        raise ValueError(f"{path}: MSRA .bin holds {len(raw) - 24} bytes of depth, its box needs {4 * count}")
    frame = np.zeros(MSRA_FRAME, np.float32)
    frame[top:bottom, left:right] = np.frombuffer(raw[24:], np.float32).reshape(bottom - top, right - left)
    return frame


def read_depth(path: str | Path) -> np.ndarray:
    """Reads a depth frame by its suffix (``.png``, ``.npy``, ``.bin``) -> ``(H, W)`` float32 mm.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: naming the file when it is corrupt, truncated or of an unknown kind.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"depth file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".png":
        return read_png(path)
    if suffix == ".bin":
        return read_msra_bin(path)
    if suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as error:
            raise ValueError(f"{path}: not a readable .npy ({error})") from None
        if array.ndim != 2:
            raise ValueError(f"{path}: expected a 2-D depth array in mm, got shape {array.shape}")
        return array.astype(np.float32)
    raise ValueError(f"{path}: unknown depth file type {suffix!r}; expected .png, .npy or .bin")
