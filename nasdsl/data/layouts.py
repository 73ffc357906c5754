"""Find a dataset's cases on disk: MSD, nnU-Net v2 raw, 2D image/mask folders, MetaImage
(PROMISE12) and DICOM series with masks. The layout is detected, or named by the caller.

Layouts without a dataset.json may still carry one at the root for label names and
channel names; otherwise labels are the values found in the masks (0 = background).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Callable

import numpy as np

from nasdsl.data.admit import admit_file, inside, read_json
from nasdsl.data.errors import DataError
from nasdsl.data.imageio import NIFTI, PNG, TIFF, read_image, suffix_of
from nasdsl.data.index import Case, DatasetIndex
from nasdsl.spec_files import printable

MAX_LABEL_VALUE = 2 ** 31 - 1         # label maps are stored in at most 32-bit integers
LAYOUTS = ("msd", "nnunet", "pairs2d", "mhd", "dicom")
_IMAGE_DIRS = ("images", "imagesTr", "image", "img")
_MASK_DIRS = ("masks", "labels", "labelsTr", "mask", "label", "gt")
_MASK_TAGS = ("_segmentation", "_seg", "_mask", "_label", "_gt")
_2D = PNG + TIFF


def load_dataset(root: str | Path, layout: str | None = None) -> DatasetIndex:
    """Index the dataset at `root`; `layout` overrides detection (one of LAYOUTS)."""
    r = Path(root)
    if not r.is_dir():
        raise DataError(r, "no such dataset folder")
    chosen = layout or detect_layout(r)
    if chosen not in _INDEXERS:
        raise DataError(r, f"unknown layout `{chosen}` (choose from {', '.join(LAYOUTS)})")
    index = _INDEXERS[chosen](r)
    if not index.cases:
        raise DataError(r, f"empty dataset: no labelled training cases found ({chosen} layout)")
    return index


def detect_layout(root: Path) -> str:
    meta = root / "dataset.json"
    if os.path.lexists(meta):    # a FIFO or a link out is refused, not skipped
        keys = _read_json(meta).keys()
        if keys & {"file_ending", "channel_names"}:
            return "nnunet"
        if keys & {"modality", "training"} or (root / "imagesTr").is_dir():
            return "msd"
    if _find_dir(root, _IMAGE_DIRS) and _find_dir(root, _MASK_DIRS):
        return "pairs2d"
    if any(root.glob("*.mhd")) or any(root.glob("*.mha")):
        return "mhd"
    if any(_dicom_case_folder(d) for d in sorted(root.iterdir()) if d.is_dir()):
        return "dicom"
    raise DataError(root, "cannot tell the dataset layout: expected dataset.json + imagesTr/ "
                          "(MSD, nnU-Net v2), images/ + masks/ (2D pairs), *.mhd files "
                          "(MetaImage) or case folders of DICOM series; or pass --layout")


def _read_json(path: Path) -> dict[str, Any]:
    data = read_json(path, path.parent, "dataset.json")
    if not isinstance(data, dict):
        raise DataError(path, "dataset.json must hold a JSON object")
    return data


def _find_dir(root: Path, names: tuple[str, ...]) -> Path | None:
    return next((root / n for n in names if (root / n).is_dir()), None)


# ---- labels and channels declared in dataset.json ---------------------------------------

def parse_labels(meta: dict[str, Any], path: Path) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """MSD form {"0": "background", ...} or nnU-Net form {"background": 0, ...}."""
    labels = meta.get("labels")
    if not isinstance(labels, dict) or not labels:
        raise DataError(path, "dataset.json has no `labels` object")
    pairs: list[tuple[int, str]] = []
    for key, val in labels.items():
        if key == "ignore" or val == "ignore":
            raise DataError(path, "nnU-Net's `ignore` label (sparse annotation) is not supported")
        if isinstance(val, str) and re.fullmatch(r"-?\d{1,12}", key.strip()):
            pairs.append((int(key), val))
        elif isinstance(val, int) and not isinstance(val, bool):
            pairs.append((val, key))
        elif isinstance(val, list):
            raise DataError(path, f"label `{printable(key)}` is a region (list of values); "
                                  "region-based training is not supported")
        else:
            raise DataError(path, f"label entry `{printable(key)}`: "
                                  f"{printable(repr(val)[:80])} is neither \"value\": \"name\" "
                                  "nor \"name\": value")
    pairs.sort()
    for value, name in pairs:
        if value < 0 or value > MAX_LABEL_VALUE:
            raise DataError(path, f"label `{printable(name)}` has the value {value}; label "
                                  f"values are whole numbers 0 (background) to "
                                  f"{MAX_LABEL_VALUE:,}")
    dup = sorted({v for v, _ in pairs if sum(w == v for w, _ in pairs) > 1})
    if dup:
        raise DataError(path, f"label value(s) {dup} named more than once")
    if pairs[0][0] != 0:
        raise DataError(path, "labels must include the background value 0")
    return tuple(n for _, n in pairs), tuple(v for v, _ in pairs)


def parse_channels(meta: dict[str, Any], path: Path, key: str) -> tuple[str, ...]:
    chans = meta.get(key)
    if not isinstance(chans, dict) or not chans:
        raise DataError(path, f"dataset.json has no `{key}` object")
    try:
        order = sorted(chans, key=int)
    except ValueError:
        raise DataError(path, f"`{key}` keys must be channel numbers \"0\", \"1\", ...") from None
    if [int(k) for k in order] != list(range(len(order))):
        raise DataError(path, f"`{key}` must number channels 0..{len(order) - 1}")
    return tuple(str(chans[k]) for k in order)


# ---- MSD --------------------------------------------------------------------------------

def _index_msd(root: Path) -> DatasetIndex:
    meta_path = root / "dataset.json"
    meta = _read_json(meta_path)
    names, values = parse_labels(meta, meta_path)
    channels = parse_channels(meta, meta_path, "modality")
    training = meta.get("training")
    if training is None:
        if not (root / "imagesTr").is_dir():
            raise DataError(meta_path, "no `training` list and no imagesTr/ folder")
        files = sorted(f for f in (root / "imagesTr").iterdir() if _is_nifti(f))
        training = [{"image": f"./imagesTr/{f.name}", "label": f"./labelsTr/{f.name}"}
                    for f in files]
    cases = tuple(_msd_case(root, meta_path, e) for e in training)
    tests = tuple(_msd_test_case(root, meta_path, t) for t in meta.get("test", [])
                  if isinstance(t, str))
    dims = _nifti_dims(root, cases)
    return DatasetIndex(root, "msd", str(meta.get("name", root.name)), dims, channels,
                        channels, names, values, cases, tests, meta_path)


def _msd_case(root: Path, meta_path: Path, entry: Any) -> Case:
    if not isinstance(entry, dict) or "image" not in entry or "label" not in entry:
        raise DataError(meta_path, f"`training` entries need \"image\" and \"label\": {entry!r}")
    image = _resolve(root, meta_path, entry["image"])
    return Case(_stem(image), (image,), _resolve(root, meta_path, entry["label"]))


def _msd_test_case(root: Path, meta_path: Path, rel: str) -> Case:
    """A test case; its label from labelsTs/ when present (nasdsl's built-in data has one)."""
    image = _resolve(root, meta_path, rel)
    label = root / "labelsTs" / image.name
    return Case(_stem(image), (image,), label if label.is_file() else None)


def _resolve(root: Path, meta_path: Path, rel: Any) -> Path:
    """A file dataset.json lists: a relative path that stays inside the dataset folder."""
    if not isinstance(rel, str) or not rel.strip() or "\0" in rel:
        raise DataError(meta_path, f"lists {printable(repr(rel)[:80])}, which is not a file "
                                   "path")
    shown = printable(rel)
    if Path(rel).is_absolute():
        raise DataError(meta_path, f"lists the absolute path `{shown}`; a dataset names its "
                                   "files relative to its folder")
    p = root / rel
    try:
        inside(root, p)
    except DataError as err:
        raise DataError(meta_path, f"lists `{shown}`, which {err.what}") from None
    if not p.is_file():
        raise DataError(meta_path, f"lists `{shown}`, which does not exist")
    return p


def _nifti_dims(root: Path, cases: tuple[Case, ...]) -> int:
    """2 when every training image is a single slice (x, y, 1[, c]) - how 2D data is
    stored as NIfTI - else 3. Reads headers only."""
    import nibabel as nib

    if not cases:
        return 3
    for case in cases:
        admit_file(case.images[0], root)
        try:
            shape = nib.load(str(case.images[0])).shape
        except Exception as err:  # noqa: BLE001
            raise DataError(case.images[0], f"unreadable NIfTI header ({err})") from None
        if len(shape) >= 3 and shape[2] != 1:
            return 3
    return 2


def _is_nifti(f: Path) -> bool:
    return f.is_file() and not f.name.startswith(".") and suffix_of(f) in NIFTI


def _stem(p: Path) -> str:
    s = suffix_of(p)
    return p.name[: -len(s)] if s and p.name.lower().endswith(s) else p.stem


# ---- nnU-Net v2 raw -----------------------------------------------------------------------

def _index_nnunet(root: Path) -> DatasetIndex:
    meta_path = root / "dataset.json"
    meta = _read_json(meta_path)
    names, values = parse_labels(meta, meta_path)
    channels = parse_channels(meta, meta_path, "channel_names")
    ending = str(meta.get("file_ending", ".nii.gz"))
    if not re.fullmatch(r"\.[A-Za-z0-9.]{1,16}", ending):
        raise DataError(meta_path, f"`file_ending` {printable(ending[:40])!s} is not a file "
                                   "suffix such as .nii.gz")
    labels_dir = root / "labelsTr"
    if not labels_dir.is_dir():
        raise DataError(root, "nnU-Net layout without labelsTr/")
    ids = sorted(f.name[: -len(ending)] for f in labels_dir.iterdir()
                 if f.name.endswith(ending) and not f.name.startswith("."))
    cases = tuple(Case(i, _nnunet_channels(root / "imagesTr", i, ending, len(channels)),
                       labels_dir / f"{i}{ending}") for i in ids)
    _no_orphans(root / "imagesTr", ending, set(ids), len(channels))
    tests = _nnunet_tests(root / "imagesTs", ending, len(channels))
    dims = 2 if ending.lower() in _2D else _nifti_dims(root, cases)
    return DatasetIndex(root, "nnunet", str(meta.get("name", root.name)), dims, channels,
                        channels, names, values, cases, tests, meta_path)


def _no_orphans(images: Path, ending: str, labelled: set[str], n: int) -> None:
    """Every file in imagesTr/ belongs to a labelled case (nothing is skipped silently)."""
    pattern = re.compile(r"(.+)_(\d{4})" + re.escape(ending) + "$")
    for f in sorted(images.iterdir()) if images.is_dir() else []:
        if f.name.startswith("."):
            continue
        m = pattern.match(f.name)
        if m is None or int(m.group(2)) >= n:
            raise DataError(f, f"not a channel file CASE_XXXX{ending} of the "
                               f"{n} declared channel(s)")
        if m.group(1) not in labelled:
            raise DataError(f, f"no label file labelsTr/{m.group(1)}{ending} for this image")


def _nnunet_channels(folder: Path, case_id: str, ending: str, n: int) -> tuple[Path, ...]:
    paths = tuple(folder / f"{case_id}_{k:04d}{ending}" for k in range(n))
    for p in paths:
        if not p.is_file():
            raise DataError(p, f"missing channel file of case `{case_id}` "
                               f"(dataset.json declares {n} channel(s))")
    return paths


def _nnunet_tests(folder: Path, ending: str, n: int) -> tuple[Case, ...]:
    if not folder.is_dir():
        return ()
    ids = sorted({f.name[: -len(ending) - 5] for f in folder.iterdir()
                  if f.name.endswith(f"_0000{ending}")})
    return tuple(Case(i, _nnunet_channels(folder, i, ending, n)) for i in ids)


# ---- layouts without a required dataset.json ------------------------------------------------

def _index_pairs2d(root: Path) -> DatasetIndex:
    img_dir, mask_dir = _find_dir(root, _IMAGE_DIRS), _find_dir(root, _MASK_DIRS)
    assert img_dir is not None and mask_dir is not None
    masks = {_stem(f): f for f in _files(mask_dir, _2D)}
    cases, used = [], set()
    for img in _files(img_dir, _2D):
        stem = _stem(img)
        mask = next((masks[stem + t] for t in ("",) + _MASK_TAGS if stem + t in masks), None)
        if mask is None:
            raise DataError(img, f"no mask for this image in {mask_dir.name}/ (expected "
                                 f"{stem}{suffix_of(img)} or {stem}_mask{suffix_of(img)})")
        cases.append(Case(stem, (img,), mask))
        used.add(mask)
    for mask in sorted(set(masks.values()) - used):
        raise DataError(mask, f"no image for this mask in {img_dir.name}/")
    return _undeclared(root, "pairs2d", 2, tuple(cases), ())


def _index_mhd(root: Path) -> DatasetIndex:
    files = _files(root, (".mhd", ".mha"))
    by_stem = {_stem(f): f for f in files}
    labels = {s for s in by_stem if s.endswith(_MASK_TAGS)}
    cases, tests = [], []
    for stem, f in sorted(by_stem.items()):
        if stem in labels:
            continue
        mask = next((by_stem[stem + t] for t in _MASK_TAGS if stem + t in by_stem), None)
        (cases if mask else tests).append(Case(stem, (f,), mask))
    return _undeclared(root, "mhd", 3, tuple(cases), tuple(tests))


def _dicom_case_folder(d: Path) -> Path | None:
    """The series folder of a DICOM case: d/image/ or d itself."""
    from nasdsl.data.dicom import dicom_files, is_dicom

    for cand in (d / "image", d / "images", d):
        if cand.is_dir() and any(is_dicom(f) for f in dicom_files(cand)[:3]):
            return cand
    return None


def _index_dicom(root: Path) -> DatasetIndex:
    from nasdsl.data.dicom import series_modality

    cases, tests = [], []
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        series = _dicom_case_folder(d)
        if series is None:
            raise DataError(d, "case folder without a DICOM series (expected image/ or .dcm files)")
        mask = _dicom_mask(d)
        (cases if mask else tests).append(Case(d.name, (series,), mask))
    index = _undeclared(root, "dicom", 3, tuple(cases), tuple(tests))
    if index.source is None and cases:
        mod = series_modality(cases[0].images[0], root) or "image"
        index = _replace_channels(index, (mod,))
    return index


def _dicom_mask(case_dir: Path) -> Path | None:
    for name in ("mask", "label", "seg", "segmentation"):
        if (case_dir / name).is_dir():
            return case_dir / name
        found = [f for f in case_dir.glob(f"{name}.*") if f.is_file()]
        if found:
            return found[0]
    return None


def _files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    return sorted(f for f in folder.iterdir()
                  if f.is_file() and not f.name.startswith(".") and suffix_of(f) in suffixes)


def _undeclared(root: Path, layout: str, dims: int, cases: tuple[Case, ...],
                tests: tuple[Case, ...]) -> DatasetIndex:
    """Channels and labels from a root dataset.json when present, else from the files."""
    meta_path = root / "dataset.json"
    if os.path.lexists(meta_path):
        meta = _read_json(meta_path)
        names, values = parse_labels(meta, meta_path)
        key = "channel_names" if "channel_names" in meta else "modality"
        channels = parse_channels(meta, meta_path, key)
        return DatasetIndex(root, layout, str(meta.get("name", root.name)), dims, channels,
                            channels, names, values, cases, tests, meta_path)
    if not cases:
        return DatasetIndex(root, layout, root.name, dims, ("image",), ("image",),
                            ("background",), (0,), cases, tests)
    n = read_image(cases[0].images[0], root)[0].shape[0]
    channels = ("image",) if n == 1 else tuple(f"channel{k}" for k in range(n))
    values = _label_values_in(root, cases)
    names = tuple("background" if v == 0 else f"label_{v}" for v in values)
    return DatasetIndex(root, layout, root.name, dims, channels, channels, names, values,
                        cases, tests)


def _label_values_in(root: Path, cases: tuple[Case, ...]) -> tuple[int, ...]:
    found: set[int] = {0}
    for c in cases:
        assert c.label is not None
        arr = read_image(c.label, root)[0]
        if np.issubdtype(arr.dtype, np.floating) and np.any(arr != np.round(arr)):
            raise DataError(c.label, "label map holds non-integer values")
        values = np.unique(arr)
        bad = [v for v in values[[0, -1]] if v < 0 or v > MAX_LABEL_VALUE] if values.size else []
        if bad:
            raise DataError(c.label, f"label map holds the value {bad[0]}; label values are "
                                     f"0 (background) to {MAX_LABEL_VALUE:,}")
        found.update(int(v) for v in values)
    return tuple(sorted(found))


def _replace_channels(index: DatasetIndex, channels: tuple[str, ...]) -> DatasetIndex:
    from dataclasses import replace

    return replace(index, channel_names=channels, modalities=channels)


_INDEXERS: dict[str, Callable[[Path], DatasetIndex]] = {
    "msd": _index_msd, "nnunet": _index_nnunet, "pairs2d": _index_pairs2d,
    "mhd": _index_mhd, "dicom": _index_dicom,
}
