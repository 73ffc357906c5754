"""Preprocessing as nnU-Net does it: crop to the non-zero region, resample to the target
spacing (anisotropy-aware), normalise per channel; and the inverse for predictions.

A `Plan` is JSON (it goes into run directories and the ONNX sidecar), so inference applies
exactly what training did. Resampling uses scipy.ndimage rather than MONAI's Spacing
because nnU-Net's rule (cubic in-plane, nearest through-plane for anisotropic volumes;
labels as per-class linear masks) is not one MONAI transform.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from nasdsl.data.errors import DataError
from nasdsl.data.geometry import Geometry
from nasdsl.data.index import CaseData, DatasetIndex
from nasdsl.data.limits import check_resample

ANISOTROPY = 3.0          # nnU-Net: an axis > 3x coarser than the others is resampled apart


@dataclass
class ChannelNorm:
    """How one channel is normalised. ct: clip to [lower, upper] then (x - mean) / std with
    dataset-wide foreground statistics; zscore: per image (inside the non-zero mask when
    use_mask); rescale: to [0, 1] per image; none: unchanged."""
    scheme: str = "zscore"
    use_mask: bool = False
    mean: float = 0.0
    std: float = 1.0
    lower: float = 0.0
    upper: float = 0.0


@dataclass
class Plan:
    """Everything preprocessing and sampling need; JSON via to_dict/from_dict."""
    dims: int                                 # 2 or 3: the network's spatial dims
    patch_size: list[int]
    target_spacing: list[float] | None        # None: keep each case's own spacing
    normalization: list[ChannelNorm]
    channel_names: list[str]
    label_names: list[str]
    label_values: list[int]
    crop_nonzero: bool = True
    slices2d: bool = False                    # 2D network trained on slices of 3D volumes
    oversample_foreground: float = 0.33
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Plan":
        d = dict(d)
        d["normalization"] = [ChannelNorm(**n) for n in d["normalization"]]
        return cls(**d)


def make_plan(index: DatasetIndex, fp: dict[str, Any], dims: int | None = None,
              patch_size: list[int] | None = None,
              target_spacing: list[float] | None = None) -> Plan:
    """nnU-Net-style plan from a fingerprint. dims=2 on a 3D dataset trains on slices."""
    slices = dims == 2 and index.dims == 3
    net_dims = dims or index.dims
    if net_dims == 3 and index.dims == 2:
        raise DataError(index.describe_file(), "a 3D network cannot train on this 2D dataset; "
                                               "use a 2D spec (-D dims=2)")
    spacing = list(target_spacing or fp["target_spacing"])
    if patch_size is None:
        patch_size = list(fp["suggested_patch_size"])
        if slices:
            from nasdsl.data.fingerprint import suggest_patch

            patch_size = suggest_patch(np.asarray(fp["median_shape_at_target_spacing"][:2]))
    use_mask = fp["median_relative_size_after_cropping"] < 0.75
    norms = [_channel_norm(m, fp["foreground_intensity_properties_per_channel"][n], use_mask)
             for m, n in zip(index.modalities, index.channel_names)]
    return Plan(net_dims, [int(p) for p in patch_size], spacing, norms,
                list(index.channel_names), list(index.label_names), list(index.label_values),
                slices2d=slices)


def _channel_norm(modality: str, stats: dict[str, float], use_mask: bool) -> ChannelNorm:
    m = modality.lower()
    if m == "ct":
        return ChannelNorm("ct", False, stats["mean"], max(stats["std"], 1e-8),
                           stats["percentile_00_5"], stats["percentile_99_5"])
    if m == "nonorm":
        return ChannelNorm("none")
    if m in ("rescale_to_0_1", "rgb_to_0_1"):
        return ChannelNorm("rescale")
    return ChannelNorm("zscore", use_mask)


def crop_to_nonzero(image: np.ndarray, label: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray | None, list[tuple[int, int]]]:
    """Crop C x spatial (and its label) to the bounding box of voxels non-zero in any
    channel, holes filled as nnU-Net does; returns the box as [(start, stop)] per axis."""
    mask = ndimage.binary_fill_holes(np.any(image != 0, axis=0))
    if not mask.any():
        box = [(0, s) for s in image.shape[1:]]
    else:
        coords = np.nonzero(mask)
        box = [(int(c.min()), int(c.max()) + 1) for c in coords]
    sl = (slice(None),) + tuple(slice(a, b) for a, b in box)
    return image[sl], (label[sl] if label is not None else None), box


def resampled_shape(shape: tuple[int, ...], spacing: tuple[float, ...],
                    target: list[float]) -> tuple[int, ...]:
    return tuple(max(1, int(round(n * s / t))) for n, s, t in zip(shape, spacing, target))


def _separate_axis(spacing: tuple[float, ...], target: list[float]) -> int | None:
    """The through-plane axis to resample apart (nearest), or None when isotropic enough."""
    for sp in (spacing, tuple(target)):
        if len(sp) == 3 and max(sp) / min(sp) > ANISOTROPY:
            return int(np.argmax(sp))
    return None


def resample(array: np.ndarray, new_shape: tuple[int, ...], is_label: bool,
             separate: int | None, num_classes: int = 0) -> np.ndarray:
    """Resample C x spatial to new_shape: images cubic (nearest along `separate`), labels
    as per-class linear masks (nnU-Net's resize_segmentation)."""
    old = array.shape[1:]
    if tuple(old) == tuple(new_shape):
        return array
    factors = [n / o for n, o in zip(new_shape, old)]
    if is_label:
        return _resample_label(array, new_shape, factors, separate, num_classes)
    return np.stack([_zoom(c, new_shape, factors, 3, separate) for c in array]).astype(np.float32)


def _zoom(a: np.ndarray, shape: tuple[int, ...], factors: list[float], order: int,
          separate: int | None) -> np.ndarray:
    if separate is None:
        out = ndimage.zoom(a, factors, order=order, mode="nearest", grid_mode=True)
    else:
        inplane = [1.0 if i == separate else f for i, f in enumerate(factors)]
        through = [factors[i] if i == separate else 1.0 for i in range(len(factors))]
        out = ndimage.zoom(a, inplane, order=order, mode="nearest", grid_mode=True)
        out = ndimage.zoom(out, through, order=0, mode="nearest", grid_mode=True)
    return _fit(out, shape)


def _fit(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """zoom rounds sizes its own way; crop or edge-pad to exactly `shape`."""
    a = a[tuple(slice(0, s) for s in shape)]
    pad = [(0, s - n) for s, n in zip(shape, a.shape)]
    return np.pad(a, pad, mode="edge") if any(p[1] for p in pad) else a


def _resample_label(label: np.ndarray, shape: tuple[int, ...], factors: list[float],
                    separate: int | None, num_classes: int) -> np.ndarray:
    lab = label[0]
    out = np.zeros(shape, np.int64)
    for c in range(1, max(num_classes, int(lab.max()) + 1)):
        mask = _zoom((lab == c).astype(np.float32), shape, factors, 1, separate)
        out[mask >= 0.5] = c
    return out[None]


def _normalise(image: np.ndarray, norms: list[ChannelNorm], mask: np.ndarray | None) -> np.ndarray:
    out = np.empty_like(image, dtype=np.float32)
    for c, n in enumerate(norms):
        x = image[c].astype(np.float32)
        if n.scheme == "ct":
            x = (np.clip(x, n.lower, n.upper) - n.mean) / n.std
        elif n.scheme == "zscore":
            region = x[mask] if (n.use_mask and mask is not None and mask.any()) else x
            x = (x - region.mean()) / max(float(region.std()), 1e-8)
            if n.use_mask and mask is not None:
                x[~mask] = 0
        elif n.scheme == "rescale":
            lo, hi = float(x.min()), float(x.max())
            x = (x - lo) / max(hi - lo, 1e-8)
        out[c] = x
    return out


@dataclass
class Preprocessed:
    """A preprocessed case; `props` is what `Preprocessor.restore` needs to go back."""
    id: str
    image: np.ndarray                  # float32 C x spatial
    label: np.ndarray | None           # int64 1 x spatial
    props: dict[str, Any]


class Preprocessor:
    """Applies a Plan to cases (training) or images (inference), and inverts it."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    def __call__(self, case: CaseData, source: str | Path | None = None) -> Preprocessed:
        """`source` (the case's image file) is what a size error names."""
        image, label, props = self._forward(case.image, case.label, case.geometry,
                                            source or f"case {case.id}")
        return Preprocessed(case.id, image, label, props)

    def preprocess_image(self, image: np.ndarray, geometry: Geometry,
                         source: str | Path = "the image") -> tuple[np.ndarray, dict[str, Any]]:
        """Inference: C x spatial float image -> (network input grid, props)."""
        out, _, props = self._forward(image.astype(np.float32), None, geometry, source)
        return out, props

    def _forward(self, image: np.ndarray, label: np.ndarray | None, geom: Geometry,
                 source: str | Path) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
        if len(self.plan.normalization) != image.shape[0]:   # never an uninitialised channel
            raise DataError(source, f"has {image.shape[0]} channel(s), the plan normalises "
                                    f"{len(self.plan.normalization)}")
        shape0 = image.shape[1:]
        box = [(0, s) for s in shape0]
        if self.plan.crop_nonzero:
            image, label, box = crop_to_nonzero(image, label)
        mask = ndimage.binary_fill_holes(np.any(image != 0, axis=0))
        target = self._target(geom.spacing)
        new_shape = resampled_shape(image.shape[1:], geom.spacing, target)
        # NOTE: bounded before resampling allocates (a 300 mm voxel makes 300x per axis)
        check_resample(source, image.shape[1:], new_shape, image.shape[0], geom.spacing,
                       target)
        sep = _separate_axis(geom.spacing, target)
        image = resample(image, new_shape, False, sep)
        if label is not None:
            label = resample(label, new_shape, True, sep, self.plan.num_classes)
        if mask.shape != new_shape:
            mask = _zoom(mask.astype(np.float32), new_shape,
                         [n / o for n, o in zip(new_shape, mask.shape)], 0, None) > 0.5
        image = _normalise(image, self.plan.normalization, mask)
        props = {"shape_before_crop": list(shape0), "bbox": [list(b) for b in box],
                 "shape_after_crop": [b - a for a, b in box], "separate_axis": sep,
                 "spacing": list(geom.spacing), "target_spacing": target,
                 "geometry": geom.to_dict()}
        return image, label, props

    def _target(self, spacing: tuple[float, ...]) -> list[float]:
        t = self.plan.target_spacing
        if t is None:
            return list(spacing)
        if self.plan.slices2d and len(spacing) == 3:
            return [t[0], t[1], spacing[2]]   # 2D on slices: only in-plane is resampled
        return list(t)

    def restore(self, array: np.ndarray, props: dict[str, Any], is_label: bool = True
                ) -> np.ndarray:
        """Map a prediction (1 x spatial labels, or C x spatial probabilities) on the network
        grid back to the original image grid: resample, then paste into the crop box."""
        crop_shape = tuple(props["shape_after_crop"])
        sep = props["separate_axis"]
        out = resample(array, crop_shape, is_label, sep, self.plan.num_classes)
        full = np.zeros((out.shape[0], *props["shape_before_crop"]), out.dtype)
        if not is_label:
            full[0] = 1                      # outside the crop box: background for sure
        full[(slice(None),) + tuple(slice(a, b) for a, b in props["bbox"])] = out
        return full
