"""Bad data: a DataError naming the file and what is wrong; the CLI exits 2 without a
traceback."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("nibabel")

from data_fixtures import dicom_series, msd, nnunet, volume, write_nifti  # noqa: E402
from nasdsl.data import DataError, check_channels, check_classes, load_case, load_dataset  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _load_all(root: Path) -> None:
    index = load_dataset(root)
    for case in index.cases:
        load_case(index, case)


def _expect(root: Path, file_part: str, what: str) -> DataError:
    with pytest.raises(DataError) as info:
        _load_all(root)
    assert file_part in info.value.path, info.value
    assert what in info.value.what, info.value
    return info.value


def test_truncated_nifti(tmp_path):
    msd(tmp_path)
    path = tmp_path / "imagesTr" / "case_1.nii.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[: len(raw) // 2]))
    _expect(tmp_path, "case_1.nii.gz", "is truncated: its header declares 12x10x6 float32")


def test_garbage_file(tmp_path):
    msd(tmp_path)
    (tmp_path / "labelsTr" / "case_0.nii.gz").write_bytes(b"not an image at all")
    _expect(tmp_path, "labelsTr/case_0.nii.gz", "unreadable or truncated")


def test_label_values_outside_dataset_json(tmp_path):
    msd(tmp_path)
    _, label = volume(np.random.default_rng(0))
    label[0, 0, 0] = 7
    write_nifti(tmp_path / "labelsTr" / "case_2.nii.gz", label, (0.8, 0.8, 2.5))
    err = _expect(tmp_path, "case_2.nii.gz", "label values [7] are not in dataset.json")
    assert "[0, 1, 2]" in err.what


def test_image_label_geometry_mismatch(tmp_path):
    msd(tmp_path)
    _, label = volume(np.random.default_rng(0))
    write_nifti(tmp_path / "labelsTr" / "case_0.nii.gz", label, (0.8, 0.8, 3.0))
    err = _expect(tmp_path, "labelsTr/case_0.nii.gz", "geometry differs from its image")
    assert "spacing 0.8x0.8x3" in err.what


def test_label_shape_mismatch(tmp_path):
    msd(tmp_path)
    write_nifti(tmp_path / "labelsTr" / "case_0.nii.gz", np.zeros((12, 10, 5), np.uint8),
                (0.8, 0.8, 2.5))
    _expect(tmp_path, "labelsTr/case_0.nii.gz", "shape 12x10x5")


def test_channel_count_against_dataset_and_spec(tmp_path):
    msd(tmp_path, channels=1)
    meta = json.loads((tmp_path / "dataset.json").read_text())
    meta["modality"] = {"0": "T1", "1": "T2"}
    (tmp_path / "dataset.json").write_text(json.dumps(meta))
    _expect(tmp_path, "case_0.nii.gz", "has 1 channel(s), the dataset declares 2")
    index = load_dataset(nnunet(tmp_path / "nn"))
    with pytest.raises(DataError, match=r"has 2 channel\(s\) \(CT, T2\) but unet.nas has "
                                        r"in_channels = 1; pass -D in_channels=2"):
        check_channels(index, 1, "unet.nas")
    with pytest.raises(DataError, match="has 3 classes"):
        check_classes(index, 2)
    check_channels(index, 2)
    check_classes(index, 3)


def test_nnunet_missing_channel_file(tmp_path):
    nnunet(tmp_path)
    (tmp_path / "imagesTr" / "tiny_001_0001.nii.gz").unlink()
    with pytest.raises(DataError, match="missing channel file of case `tiny_001`"):
        load_dataset(tmp_path)


def test_empty_dataset(tmp_path):
    msd(tmp_path, cases=0)
    with pytest.raises(DataError, match="empty dataset"):
        load_dataset(tmp_path)


def test_listed_file_missing(tmp_path):
    msd(tmp_path)
    (tmp_path / "imagesTr" / "case_2.nii.gz").unlink()
    with pytest.raises(DataError, match=r"lists `./imagesTr/case_2.nii.gz`, which does not exist"):
        load_dataset(tmp_path)


def test_truncated_dicom_file(tmp_path):
    stored = np.arange(8 * 6 * 3, dtype=np.uint16).reshape(8, 6, 3)
    dicom_series(tmp_path / "p1" / "image", stored)
    (tmp_path / "p1" / "mask.nii.gz").write_bytes(b"")        # never reached: image first
    bad = sorted((tmp_path / "p1" / "image").iterdir())[1]
    bad.write_bytes(bad.read_bytes()[:-40])
    with pytest.raises(DataError) as info:
        _load_all(tmp_path)
    assert info.value.path == str(bad) and "truncated" in info.value.what


def test_unknown_layout(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="cannot tell the dataset layout"):
        load_dataset(tmp_path)


def test_cli_maps_data_error_to_exit_2(tmp_path):
    msd(tmp_path)
    (tmp_path / "labelsTr" / "case_0.nii.gz").write_bytes(b"\x1f\x8b broken")
    proc = subprocess.run([sys.executable, "-m", "nasdsl", "data", "inspect", str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"error: {tmp_path / 'labelsTr' / 'case_0.nii.gz'}: "
                                  "unreadable or truncated image")
    assert "Traceback" not in proc.stderr


def test_nnunet_image_without_label_is_not_skipped(tmp_path):
    nnunet(tmp_path)
    (tmp_path / "labelsTr" / "tiny_000.nii.gz").unlink()
    with pytest.raises(DataError) as info:
        load_dataset(tmp_path)
    assert info.value.path.endswith("imagesTr/tiny_000_0000.nii.gz")
    assert "no label file labelsTr/tiny_000.nii.gz" in info.value.what
