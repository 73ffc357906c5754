"""A dataset fingerprint as nnU-Net computes one, and the patch sizes it suggests.

Per case (after cropping to the non-zero region): shape, spacing, foreground intensity
samples per channel, voxels per class. Aggregated: median spacing and shape, nnU-Net's
target spacing (anisotropy rule), intensity statistics per channel in the foreground, class
fractions, and the RONASMIS patch candidates (paper Eq. 1-2) from the median size.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from nasdsl.data.index import DatasetIndex, load_case
from nasdsl.data.preprocess import crop_to_nonzero

_SAMPLES_PER_CASE = 10_000           # nnU-Net: foreground intensities sampled per case
RONASMIS_STRIDE = 2                  # S in Eq. 1-2
RONASMIS_STAGES = 4                  # S**4 = the largest total stride (16)


def fingerprint(index: DatasetIndex, seed: int = 1234,
                progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Scan every training case once and summarise it (see module doc); JSON-serialisable."""
    rng = np.random.default_rng(seed)
    spacings, shapes, shapes_full = [], [], []
    samples: list[list[np.ndarray]] = [[] for _ in range(index.num_channels)]
    counts = np.zeros(index.num_classes, np.int64)
    for k, case in enumerate(index.cases):
        data = load_case(index, case)
        image, label, _ = crop_to_nonzero(data.image, data.label)
        assert label is not None
        spacings.append(data.geometry.spacing)
        shapes.append(image.shape[1:])
        shapes_full.append(data.image.shape[1:])
        counts += np.bincount(label.ravel(), minlength=index.num_classes)[: index.num_classes]
        _sample_foreground(image, label[0] > 0, rng, samples)
        if progress:
            progress(k + 1, len(index.cases))
    return summarise(index, np.asarray(spacings, float), np.asarray(shapes, float),
                     np.asarray(shapes_full, float), samples, counts)


def _sample_foreground(image: np.ndarray, fg: np.ndarray, rng: np.random.Generator,
                       out: list[list[np.ndarray]]) -> None:
    for c in range(image.shape[0]):
        values = image[c][fg]
        if values.size > _SAMPLES_PER_CASE:
            values = rng.choice(values, _SAMPLES_PER_CASE, replace=False)
        out[c].append(values)


def summarise(index: DatasetIndex, spacings: np.ndarray, shapes: np.ndarray,
              shapes_full: np.ndarray, samples: list[list[np.ndarray]],
              counts: np.ndarray) -> dict[str, Any]:
    target = target_spacing(spacings, shapes)
    median_resampled = np.median(shapes * spacings / target[None, :], 0)
    fp: dict[str, Any] = {
        "dataset": index.to_dict(),
        "num_cases": len(index.cases),
        "spacings": spacings.tolist(),
        "shapes_after_crop": shapes.astype(int).tolist(),
        "median_spacing": np.median(spacings, 0).tolist(),
        "median_shape": np.median(shapes, 0).tolist(),
        "median_relative_size_after_cropping": float(np.median(
            np.prod(shapes, 1) / np.prod(shapes_full, 1))),
        "target_spacing": target.tolist(),
        "median_shape_at_target_spacing": np.round(median_resampled, 2).tolist(),
        "anisotropic": bool(np.max(target) > 3 * np.min(target)),
        "foreground_intensity_properties_per_channel": {
            name: intensity_stats(np.concatenate(samples[c]) if samples[c] else np.zeros(0))
            for c, name in enumerate(index.channel_names)},
        "class_fractions": dict(zip(index.label_names,
                                    (counts / max(int(counts.sum()), 1)).tolist())),
    }
    fp["ronasmis"] = ronasmis_patch(fp["median_shape_at_target_spacing"])
    fp["suggested_patch_size"] = suggest_patch(median_resampled)
    return fp


def intensity_stats(values: np.ndarray) -> dict[str, float]:
    """nnU-Net's foreground intensity properties of one channel."""
    if values.size == 0:
        return {k: 0.0 for k in ("mean", "median", "std", "min", "max",
                                 "percentile_99_5", "percentile_00_5")}
    v = values.astype(np.float64)
    return {"mean": float(v.mean()), "median": float(np.median(v)), "std": float(v.std()),
            "min": float(v.min()), "max": float(v.max()),
            "percentile_99_5": float(np.percentile(v, 99.5)),
            "percentile_00_5": float(np.percentile(v, 0.5))}


def target_spacing(spacings: np.ndarray, shapes: np.ndarray) -> np.ndarray:
    """nnU-Net v2: the median spacing, except that a strongly anisotropic axis (spacing
    > 3x the others and < 1/3 of their voxels) takes the 10th percentile of its spacings."""
    target = np.percentile(spacings, 50, 0)
    if spacings.shape[1] < 2:
        return target
    size = np.percentile(shapes, 50, 0)
    worst = int(np.argmax(target))
    others = [i for i in range(len(target)) if i != worst]
    if target[worst] > 3 * max(target[others]) and size[worst] * 3 < min(size[others]):
        t = float(np.percentile(spacings[:, worst], 10))
        target[worst] = max(t, max(target[others]) + 1e-5)
    return target


def ronasmis_candidates(size: float, stride: int = RONASMIS_STRIDE,
                        stages: int = RONASMIS_STAGES) -> list[int]:
    """Eq. 1-2: floor(size / S^4) * S^4 - S^4 * {0..4}, keeping the positive ones."""
    step = stride ** stages
    top = int(size // step) * step
    return [top - step * k for k in range(5) if top - step * k > 0] or [step]


def ronasmis_patch(median_shape: list[float]) -> dict[str, Any]:
    """RONASMIS patch candidates from the median image size: H and W share one list
    (from max(H, W)), D (the last axis) has its own; and the -D values for
    specs/ronasmis.nas (params patch_hw_max, patch_hw_n, patch_d_max, patch_d_n)."""
    hw = ronasmis_candidates(max(median_shape[0], median_shape[1]))
    out: dict[str, Any] = {"patch_hw": hw, "patch_hw_max": hw[0], "patch_hw_n": len(hw)}
    defines = [f"patch_hw_max={hw[0]}", f"patch_hw_n={len(hw)}"]
    if len(median_shape) >= 3:
        d = ronasmis_candidates(median_shape[2])
        out.update({"patch_d": d, "patch_d_max": d[0], "patch_d_n": len(d)})
        defines += [f"patch_d_max={d[0]}", f"patch_d_n={len(d)}", "dims=3"]
    else:
        defines.append("dims=2")
    out["defines"] = " ".join(f"-D {d}" for d in defines)
    return out


def suggest_patch(median_shape: np.ndarray, max_voxels: int | None = None,
                  divisor: int = 16) -> list[int]:
    """A patch as nnU-Net's planner makes one: the median shape at the target spacing,
    rounded up to multiples of `divisor` (so a small image fits in one patch), then shrunk
    along its longest axis until it fits a voxel budget (128^3 in 3D, 512^2 in 2D: a
    fixed stand-in for nnU-Net's GPU-memory estimate)."""
    shape = np.ceil(np.maximum(np.asarray(median_shape, float), 1) / divisor) * divisor
    budget = max_voxels or (128 ** 3 if len(shape) == 3 else 512 ** 2)
    while np.prod(shape) > budget and shape.max() > divisor:
        axis = int(np.argmax(shape))
        shape[axis] -= divisor
    return [int(s) for s in shape]
