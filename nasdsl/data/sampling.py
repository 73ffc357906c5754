"""Patch sampling with foreground oversampling, as nnU-Net: a sample is either a random
patch or one centred near a voxel of a randomly chosen foreground class present in the
case. Voxel locations per class are sampled once per case (at most 10,000 each)."""

from __future__ import annotations

import numpy as np

_MAX_LOCATIONS = 10_000


def class_locations(label: np.ndarray, num_classes: int, seed: int) -> dict[int, np.ndarray]:
    """Up to 10,000 voxel coordinates (N x spatial) per foreground class present."""
    rng = np.random.default_rng(seed)
    out: dict[int, np.ndarray] = {}
    for c in range(1, num_classes):
        coords = np.argwhere(label[0] == c)
        if len(coords) > _MAX_LOCATIONS:
            coords = coords[rng.choice(len(coords), _MAX_LOCATIONS, replace=False)]
        if len(coords):
            out[c] = coords.astype(np.int32)
    return out


def choose_start(shape: tuple[int, ...], patch: tuple[int, ...], rng: np.random.Generator,
                 centre: np.ndarray | None) -> list[int]:
    """Patch start per axis; may be negative or overrun (then padded), never beyond the
    range that keeps the patch overlapping the image."""
    starts = []
    for ax, (s, p) in enumerate(zip(shape, patch)):
        lo, hi = min(0, s - p), max(0, s - p)
        if centre is None:
            starts.append(int(rng.integers(lo, hi + 1)))
        else:
            starts.append(int(np.clip(centre[ax] - p // 2, lo, hi)))
    return starts


def crop_padded(array: np.ndarray, start: list[int], patch: tuple[int, ...]) -> np.ndarray:
    """array[:, start:start+patch] with zero padding wherever the window leaves the array."""
    spatial = array.shape[1:]
    src = tuple(slice(max(a, 0), min(a + p, s)) for a, p, s in zip(start, patch, spatial))
    piece = array[(slice(None),) + src]
    pad = [(0, 0)] + [(max(-a, 0), max(a + p - s, 0)) for a, p, s in zip(start, patch, spatial)]
    return np.pad(piece, pad) if any(b for pair in pad for b in pair) else piece.copy()


def sample_patch(image: np.ndarray, label: np.ndarray, locations: dict[int, np.ndarray],
                 patch: tuple[int, ...], rng: np.random.Generator, force_fg: bool,
                 slices2d: bool) -> tuple[np.ndarray, np.ndarray]:
    """One (image, label) patch; with slices2d, a 2D patch from one slice of the last axis."""
    centre = None
    if force_fg and locations:
        cls = list(locations)[int(rng.integers(len(locations)))]
        coords = locations[cls]
        centre = coords[int(rng.integers(len(coords)))]
    if slices2d:
        z = int(centre[-1]) if centre is not None else int(rng.integers(image.shape[-1]))
        image, label = image[..., z], label[..., z]
        centre = centre[:-1] if centre is not None else None
    start = choose_start(image.shape[1:], patch, rng, centre)
    return crop_padded(image, start, patch), crop_padded(label, start, patch)
