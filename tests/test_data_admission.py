"""Admission of dataset files, in-process: what is refused and, as important, what real
datasets still do (a linked dataset root, links inside it, names with spaces)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("nibabel")

from hostile_data import _mhd, _mhd_pair, _valid_msd  # noqa: E402
from nasdsl.data import DataError, load_case, load_dataset, read_image  # noqa: E402


def _load_all(root: Path) -> None:
    index = load_dataset(root)
    for case in index.cases:
        load_case(index, case)


def test_linked_dataset_root_and_links_inside_are_fine(tmp_path):
    real = _valid_msd(tmp_path / "disk" / "Task")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "Task").symlink_to(real)
    link = real / "imagesTr" / "alias.nii.gz"
    link.symlink_to(real / "imagesTr" / "case_0.nii.gz")
    meta = json.loads((real / "dataset.json").read_text())
    meta["training"][0]["image"] = "./imagesTr/alias.nii.gz"
    meta["training"][1]["image"] = "./labelsTr/../imagesTr/case_1.nii.gz"
    (real / "dataset.json").write_text(json.dumps(meta))
    _load_all(tmp_path / "data" / "Task")


def test_mhd_data_file_with_spaces_is_read(tmp_path):
    root = tmp_path / "data"
    _mhd_pair(root)
    (root / "Case 02.raw").write_bytes(bytes(range(64)))
    _mhd(root / "Case02.mhd", (8, 8), "Case 02.raw")
    arr, geom = read_image(root / "Case02.mhd", root)
    assert arr.shape == (1, 8, 8) and arr[0, 1, 0] == 1


def test_mhd_file_list_refused(tmp_path):
    root = tmp_path / "data"
    _mhd_pair(root)
    _mhd(root / "Case02.mhd", (8, 8, 2), "LIST")
    with pytest.raises(DataError) as info:
        read_image(root / "Case02.mhd", root)
    assert "ElementDataFile `LIST`" in info.value.what


def test_nrrd_detached_data_outside_refused(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    (root / "a.nhdr").write_text("NRRD0004\ntype: uchar\ndimension: 2\nsizes: 8 8\n"
                                 "encoding: raw\ndata file: /etc/passwd\n\n")
    with pytest.raises(DataError) as info:
        read_image(root / "a.nhdr", root)
    assert "data file `/etc/passwd`" in info.value.what and "outside" in info.value.what


def test_file_size_limit(tmp_path, monkeypatch):
    root = _valid_msd(tmp_path / "data")
    monkeypatch.setenv("NASDSL_MAX_FILE_BYTES", "100")
    with pytest.raises(DataError) as info:
        _load_all(root)
    assert "NASDSL_MAX_FILE_BYTES" in info.value.what


def test_upsample_limit_is_overridable(tmp_path, monkeypatch):
    """A 4x-per-axis upsample of a 2D case is refused at NASDSL_MAX_UPSAMPLE=8 and
    allowed at the default 64."""
    from nasdsl.data import Geometry, Plan, Preprocessor
    from nasdsl.data.preprocess import ChannelNorm

    plan = Plan(2, [16, 16], [1.0, 1.0], [ChannelNorm()], ["image"], ["bg", "a"], [0, 1],
                crop_nonzero=False)
    image = np.ones((1, 8, 8), np.float32)
    x, _ = Preprocessor(plan).preprocess_image(image, Geometry.identity((4.0, 4.0)), "x.png")
    assert x.shape == (1, 32, 32)
    monkeypatch.setenv("NASDSL_MAX_UPSAMPLE", "8")
    with pytest.raises(DataError) as info:
        Preprocessor(plan).preprocess_image(image, Geometry.identity((4.0, 4.0)), "x.png")
    assert info.value.path == "x.png" and "NASDSL_MAX_UPSAMPLE" in info.value.what


def test_png_beyond_pillows_own_guard_names_our_limit(tmp_path, recwarn):
    """400 M pixels: Pillow's own guard would raise its DecompressionBombError (and warn
    from 89 M); nasdsl's one documented limit decides, without a warning on stderr."""
    from hostile_data import _lying_png

    path = tmp_path / "big.png"
    path.write_bytes(_lying_png(20000, 20000))
    with pytest.raises(DataError) as info:
        read_image(path)
    assert "20000x20000" in info.value.what and "NASDSL_MAX_VOXELS" in info.value.what
    assert not [w for w in recwarn if "DecompressionBomb" in type(w.message).__name__]
