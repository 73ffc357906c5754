"""What a dataset is once found on disk: cases, channels, labels; and loading one case
with every check that bad data must fail (geometry, channel count, label values)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nasdsl.data.errors import DataError
from nasdsl.data.geometry import Geometry
from nasdsl.data.imageio import read_image
from nasdsl.safe_text import for_terminal


@dataclass(frozen=True)
class Case:
    """One case: an image file per channel (or one multi-channel file) and its label."""
    id: str
    images: tuple[Path, ...]
    label: Path | None = None


@dataclass(frozen=True)
class DatasetIndex:
    """A dataset as found on disk; class index k is raw label value `label_values[k]`."""
    root: Path
    layout: str                       # msd | nnunet | pairs2d | mhd | dicom
    name: str
    dims: int                         # 2 (PNG/TIFF) or 3
    channel_names: tuple[str, ...]
    modalities: tuple[str, ...]       # per channel; "CT" selects CT normalisation
    label_names: tuple[str, ...]
    label_values: tuple[int, ...]
    cases: tuple[Case, ...]           # labelled training cases
    test_cases: tuple[Case, ...] = ()
    source: Path | None = None        # dataset.json when there is one

    @property
    def num_channels(self) -> int:
        return len(self.channel_names)

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    def case(self, case_id: str) -> Case:
        for c in self.cases + self.test_cases:
            if c.id == case_id:
                return c
        raise KeyError(case_id)

    def describe_file(self) -> Path:
        """The file that declares channels and labels (for error messages)."""
        return self.source or self.root

    def to_dict(self) -> dict[str, Any]:
        return {"root": str(self.root), "layout": self.layout, "name": self.name,
                "dims": self.dims, "channel_names": list(self.channel_names),
                "modalities": list(self.modalities), "label_names": list(self.label_names),
                "label_values": list(self.label_values), "num_training": len(self.cases),
                "num_test": len(self.test_cases)}


@dataclass
class CaseData:
    """A loaded case: float32 image (C x spatial), int64 label of class indices
    (1 x spatial, or None for unlabelled cases) and the image's geometry."""
    id: str
    image: np.ndarray
    label: np.ndarray | None
    geometry: Geometry


def load_case(index: DatasetIndex, case: Case) -> CaseData:
    """Read a case and check it against the index; raise DataError on any mismatch."""
    channels, geom = _read_channels(index, case)
    label = None
    if case.label is not None:
        raw, lgeom = _as_dims(index, *read_image(case.label, index.root))
        _check_label_grid(case, channels, geom, raw, lgeom)
        label = remap_labels(raw[0], index, case.label)[None]
    return CaseData(case.id, channels, label, geom)


def _read_channels(index: DatasetIndex, case: Case) -> tuple[np.ndarray, Geometry]:
    arrays, geom, first = [], None, case.images[0]
    for path in case.images:
        arr, g = _as_dims(index, *read_image(path, index.root))
        if geom is None:
            geom = g
        elif arr.shape[1:] != arrays[0].shape[1:] or not g.matches(geom):
            raise DataError(path, f"geometry differs from {first.name}: "
                                  f"{_grid(arr.shape[1:], g)} vs {_grid(arrays[0].shape[1:], geom)}")
        arrays.append(arr)
    image = np.concatenate(arrays, 0).astype(np.float32, copy=False)
    if image.shape[0] != index.num_channels:
        raise DataError(first if len(case.images) == 1 else index.describe_file(),
                        f"case `{for_terminal(case.id)}` has {image.shape[0]} channel(s), the dataset "
                        f"declares {index.num_channels} "
                        f"({for_terminal(', '.join(index.channel_names))})")
    assert geom is not None
    return image, geom


def _as_dims(index: DatasetIndex, arr: np.ndarray, geom: Geometry
             ) -> tuple[np.ndarray, Geometry]:
    """A 2D dataset stored as single-slice volumes: drop the unit third axis."""
    if index.dims == 2 and arr.ndim == 4 and arr.shape[-1] == 1:
        return arr[..., 0], geom.restrict(2)
    return arr, geom


def _check_label_grid(case: Case, image: np.ndarray, geom: Geometry,
                      label: np.ndarray, lgeom: Geometry) -> None:
    assert case.label is not None
    if label.shape[0] != 1:
        raise DataError(case.label, f"a label map has one channel, found {label.shape[0]}")
    if label.shape[1:] != image.shape[1:] or not lgeom.matches(geom):
        raise DataError(case.label, f"geometry differs from its image {case.images[0].name}: "
                                    f"label {_grid(label.shape[1:], lgeom)}, image "
                                    f"{_grid(image.shape[1:], geom)}")


def _grid(shape: tuple[int, ...], g: Geometry) -> str:
    sp = "x".join(f"{s:.4g}" for s in g.spacing)
    org = ",".join(f"{o:.4g}" for o in g.origin)
    return f"shape {'x'.join(map(str, shape))} spacing {sp} origin ({org})"


def remap_labels(raw: np.ndarray, index: DatasetIndex, path: Path) -> np.ndarray:
    """Raw label values -> class indices 0..K-1; values the dataset does not declare fail."""
    if np.issubdtype(raw.dtype, np.floating):
        if not np.all(np.isfinite(raw)) or np.any(raw != np.round(raw)):
            raise DataError(path, "label map holds non-integer values")
    values = np.unique(raw).astype(np.int64)
    known = np.asarray(index.label_values, np.int64)
    unknown = sorted(set(values.tolist()) - set(known.tolist()))
    if unknown:
        raise DataError(path, f"label values {unknown[:10]} are not in "
                              f"{index.describe_file().name} labels {list(index.label_values)}")
    lut_size = int(max(known.max(), values.max())) + 1
    if known.min() < 0 or lut_size > 1 << 20:
        order = np.argsort(known)
        return order[np.searchsorted(known[order], raw.astype(np.int64))].astype(np.int64)
    lut = np.zeros(lut_size, np.int64)
    lut[known] = np.arange(len(known))
    return lut[raw.astype(np.int64)]


def check_channels(index: DatasetIndex, in_channels: int, spec: str = "the spec") -> None:
    """The train helper calls this: the data's channel count must be the spec's `in_channels`."""
    if index.num_channels != in_channels:
        raise DataError(index.describe_file(),
                        f"has {index.num_channels} channel(s) "
                        f"({for_terminal(', '.join(index.channel_names))}) "
                        f"but {spec} has in_channels = {in_channels}; pass "
                        f"-D in_channels={index.num_channels}")


def check_classes(index: DatasetIndex, classes: int, spec: str = "the spec") -> None:
    """The data's class count (background included) must be the spec's `classes`."""
    if index.num_classes != classes:
        raise DataError(index.describe_file(),
                        f"has {index.num_classes} classes "
                        f"({for_terminal(', '.join(index.label_names))}) "
                        f"but {spec} has classes = {classes}; pass -D classes={index.num_classes}")
