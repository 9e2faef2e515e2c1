"""Reading depth frames from disk, in millimetres: 16-bit PNG, NYU's 3-channel PNG, numpy ``.npy``, MSRA ``.bin``.

A file is read as depth only when its kind says depth: a 16-bit single-channel PNG, NYU's 8-bit 3-channel PNG
(``G * 256 + B``) when the caller says the frame follows NYU's convention, a ``.npy`` of real numbers, an MSRA
``.bin``. Anything else (an 8-bit greyscale, palette or colour PNG, a JPEG renamed ``.png``, a complex or boolean
array) is refused by name, never decoded into plausible-looking millimetres.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

MSRA_FRAME = (240, 320)
"""Frame size an MSRA15 ``.bin`` depth box is pasted into, pixels (H, W)."""
MAX_PIXELS = 4096 * 4096
"""Largest depth frame read, pixels (16.8 M, 64 MB as float32): larger files are refused before they are decoded
(a 20000 x 20000 PNG of a few KB would decompress to 800 MB)."""

PNG_DEPTH_MODES = ("I;16", "I;16B", "I;16L", "I")
"""Pillow modes of a single-channel 16-bit PNG: depth in mm."""
PNG_MODE_NAMES = {"1": "1-bit black-and-white PNG", "L": "8-bit greyscale PNG", "LA": "8-bit greyscale PNG with alpha",
                  "P": "8-bit palette PNG", "PA": "8-bit palette PNG with alpha", "RGB": "8-bit RGB PNG",
                  "RGBA": "8-bit RGBA PNG"}
"""How the other PNG kinds are named in errors."""


def read_png(path: Path, nyu_rgb: bool = False) -> np.ndarray:
    """A 16-bit single-channel PNG (mm), or with ``nyu_rgb`` NYU's 8-bit RGB PNG (mm = G * 256 + B), as ``(H, W)``
    float32 mm.

    Raises:
        ValueError: naming the file when it is not a PNG, is larger than :data:`MAX_PIXELS`, or is another kind of
            PNG (8-bit greyscale, palette, RGB without ``nyu_rgb``, RGBA).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size is checked below
            image = Image.open(path)
        with image:
            if image.format != "PNG":
                raise ValueError(f"{path}: a {image.format} image, not a PNG; expected a 16-bit depth PNG in mm")
            check_pixels(path, image.height, image.width)
            kind = PNG_MODE_NAMES.get(image.mode, f"PNG of mode {image.mode}")
            if image.mode not in PNG_DEPTH_MODES and not (nyu_rgb and image.mode == "RGB"):
                hint = " (NYU's 3-channel depth PNGs are read with the nyu camera)" if image.mode == "RGB" else ""
                raise ValueError(f"{path}: {kind}, expected a 16-bit single-channel depth PNG in mm{hint}")
            image.load()
            array = np.asarray(image)
    except Image.DecompressionBombError as error:
        raise ValueError(f"{path}: image too large to be a depth frame ({error})") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(f"{path}: not a readable PNG ({error})") from None
    if array.ndim == 3:
        return array[..., 1].astype(np.float32) * 256 + array[..., 2]
    return array.astype(np.float32)


def check_pixels(path: Path, height: int, width: int) -> None:
    """Raises ValueError naming ``path`` when a frame of ``height x width`` pixels exceeds :data:`MAX_PIXELS`."""
    if height * width > MAX_PIXELS:
        raise ValueError(f"{path}: {width}x{height} pixels, more than the {MAX_PIXELS} a depth frame may have")


def read_npy(path: Path) -> np.ndarray:
    """A 2-D ``.npy`` of integers or floats in mm -> ``(H, W)`` float32 mm.

    Raises:
        ValueError: naming the file when it is empty, truncated or unreadable, holds another dtype (complex, boolean,
            objects, records), is not 2-D, or is larger than :data:`MAX_PIXELS`.
    """
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)  # the header first: nothing big is read yet
    except (ValueError, OSError, EOFError) as error:
        raise ValueError(f"{path}: not a readable .npy ({error or 'empty file'})") from None
    if not isinstance(array, np.ndarray):
        raise ValueError(f"{path}: not a single .npy array")
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ValueError(f"{path}: .npy of dtype {array.dtype}, expected real numbers (depth in mm)")
    if array.ndim != 2:
        raise ValueError(f"{path}: expected a 2-D depth array in mm, got shape {array.shape}")
    check_pixels(path, *array.shape)
    return np.array(array, np.float32)


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


def read_depth(path: str | Path, nyu_rgb: bool = False) -> np.ndarray:
    """Reads a depth frame by its suffix (``.png``, ``.npy``, ``.bin``) -> ``(H, W)`` float32 mm.

    Args:
        nyu_rgb: the frame follows NYU's convention, so an 8-bit RGB PNG is read as ``G * 256 + B`` mm.
    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: naming the file when it is corrupt, truncated, too large, or not a depth kind (see the module).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"depth file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".png":
        return read_png(path, nyu_rgb)
    if suffix == ".bin":
        return read_msra_bin(path)
    if suffix == ".npy":
        return read_npy(path)
    raise ValueError(f"{path}: unknown depth file type {suffix!r}; expected .png, .npy or .bin")
