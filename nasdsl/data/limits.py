"""The documented, overridable bounds on what a data file may make nasdsl allocate.

Every size a file *declares* (image dimensions in a header, a DICOM series, a sidecar's
window) and every size nasdsl would *derive* from one (an image resampled to the plan's
spacing) is checked against these before any array is allocated, so a 72-byte file that
declares 1.6 GB, a gzip bomb or a 32x32 image with 300 mm voxels ends in one clear error
instead of swap, a MemoryError or minutes of resampling. See docs/DATA.md ("Limits").

    NASDSL_MAX_VOXELS       voxels x channels of one image, declared or resampled
                            (default 2**28 = 268,435,456 for volumes: 1 GiB as float32;
                            the largest MSD volume, Task03 Liver 512x512x987, has 259 M;
                            2**26 = 67,108,864 = 8192**2 for 2D images)
    NASDSL_MAX_UPSAMPLE     how many times more voxels resampling may make of an image
                            (default 64: 4x per axis in 3D, 8x in 2D)
    NASDSL_MAX_FILE_BYTES   size of one image file on disk (default 8 GiB)
    NASDSL_MEMORY_CHECK     `off` skips train/search's comparison of the network's memory
                            estimate with the memory available (nasdsl/data/memcheck.py)
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

from nasdsl.data.errors import DataError

DEFAULT_MAX_VOXELS = 1 << 28
DEFAULT_MAX_PIXELS_2D = 1 << 26   # mammograms (~14 M) and dermoscopy (~24 M) fit
DEFAULT_MAX_UPSAMPLE = 64
DEFAULT_MAX_FILE_BYTES = 8 << 30
MAX_JSON_BYTES = 64 << 20      # dataset.json, sidecars: the largest MSD dataset.json is ~200 KB


class LimitError(DataError):
    """A size over one of the limits; the message names the variable that raises it."""


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.replace("_", "").strip())
    except ValueError:
        value = 0
    if value <= 0:
        raise DataError(f"${name}", f"must be a positive whole number, not {raw!r}")
    return value


def max_voxels(spatial_dims: int = 3) -> int:
    """The limit for an image with this many axes longer than 1 (2: a 2D image)."""
    default = DEFAULT_MAX_PIXELS_2D if spatial_dims <= 2 else DEFAULT_MAX_VOXELS
    return _env_int("NASDSL_MAX_VOXELS", default)


def max_upsample() -> int:
    return _env_int("NASDSL_MAX_UPSAMPLE", DEFAULT_MAX_UPSAMPLE)


def max_file_bytes() -> int:
    return _env_int("NASDSL_MAX_FILE_BYTES", DEFAULT_MAX_FILE_BYTES)


def shape_text(shape: Sequence[int]) -> str:
    return "x".join(str(int(s)) for s in shape)


def check_voxels(path: str | Path, shape: Sequence[int], channels: int = 1,
                 what: str = "declares an image of", spatial_dims: int | None = None) -> None:
    """Refuse a (declared or derived) image larger than NASDSL_MAX_VOXELS (the 2D default
    when at most two axes are longer than 1, unless `spatial_dims` says otherwise)."""
    if any(int(s) < 0 for s in shape):
        raise DataError(path, f"{what} a negative size {shape_text(shape)}")
    n = math.prod(int(s) for s in shape) * max(int(channels), 1)
    dims = spatial_dims if spatial_dims is not None else sum(int(s) > 1 for s in shape)
    limit = max_voxels(dims)
    if n > limit:
        chans = f" x {channels} channels" if channels > 1 else ""
        raise LimitError(path, f"{what} {shape_text(shape)}{chans} = {n:,} voxels; nasdsl "
                               f"handles at most {limit:,} per image (raise "
                               "NASDSL_MAX_VOXELS if this image is real, see docs/DATA.md)")


def check_resample(path: str | Path, old: Sequence[int], new: Sequence[int], channels: int,
                   spacing: Sequence[float], target: Sequence[float]) -> None:
    """The image resampled to the plan's spacing must fit both limits."""
    sp = "x".join(f"{s:.4g}" for s in spacing)
    tg = "x".join(f"{t:.4g}" for t in target)
    what = f"resampled from spacing {sp} mm to {tg} mm would be"
    check_voxels(path, new, channels, what)
    grow = math.prod(int(n) for n in new) / max(math.prod(int(o) for o in old), 1)
    limit = max_upsample()
    if grow > limit:
        raise LimitError(path, f"{what} {shape_text(new)}, {grow:,.0f} times the voxels of "
                               f"its {shape_text(old)} grid; nasdsl resamples to at most "
                               f"{limit}x (NASDSL_MAX_UPSAMPLE): check the spacing in its "
                               "header")


__all__ = ["LimitError", "check_voxels", "check_resample", "max_voxels", "max_upsample",
           "max_file_bytes", "MAX_JSON_BYTES", "shape_text"]
