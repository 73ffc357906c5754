"""Each reader on tiny files written by the libraries themselves."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("nibabel")

from data_fixtures import dicom_series, msd, nnunet, volume, write_nifti  # noqa: E402
from nasdsl.data import (Geometry, load_case, load_dataset, make_plan, read_image,  # noqa: E402
                         write_image, fingerprint)


def test_msd_4d_multichannel_nifti(tmp_path):
    index = load_dataset(msd(tmp_path, cases=2, channels=2))
    assert (index.layout, index.dims, index.channel_names) == ("msd", 3, ("MR0", "MR1"))
    assert index.label_names == ("background", "a", "b") and len(index.cases) == 2
    data = load_case(index, index.cases[0])
    assert data.image.shape == (2, 12, 10, 6) and data.image.dtype == np.float32
    np.testing.assert_allclose(data.image[1], 2 * data.image[0])
    assert data.label.shape == (1, 12, 10, 6) and data.label.dtype == np.int64
    assert set(np.unique(data.label)) == {0, 1, 2}
    assert data.geometry.spacing == pytest.approx((0.8, 0.8, 2.5))


def test_nnunet_v2_channels_labels_and_tests(tmp_path):
    index = load_dataset(nnunet(tmp_path))
    assert index.layout == "nnunet" and index.channel_names == ("CT", "T2")
    assert [c.id for c in index.cases] == ["tiny_000", "tiny_001"]
    assert [c.id for c in index.test_cases] == ["tiny_100"]
    data = load_case(index, index.cases[1])
    np.testing.assert_allclose(data.image[1], -data.image[0])
    plan = make_plan(index, fingerprint(index), patch_size=[8, 8, 4])
    assert [n.scheme for n in plan.normalization] == ["ct", "zscore"]


@pytest.mark.parametrize("fmt", ["png", "tif"])
def test_2d_pairs_png_and_tiff(tmp_path, fmt):
    from PIL import Image
    import tifffile

    rng = np.random.default_rng(0)
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    rows = {}
    for k in range(2):
        img = rng.integers(1, 255, (9, 13), dtype=np.uint8)     # rows x cols
        mask = np.zeros((9, 13), np.uint8)
        mask[2:5, 3:10] = 255
        rows[f"im{k}"] = img
        if fmt == "png":
            Image.fromarray(img).save(tmp_path / "images" / f"im{k}.png")
            Image.fromarray(mask).save(tmp_path / "masks" / f"im{k}.png")
        else:
            tifffile.imwrite(tmp_path / "images" / f"im{k}.tif", img)
            tifffile.imwrite(tmp_path / "masks" / f"im{k}_mask.tif", mask)
    index = load_dataset(tmp_path)
    assert (index.layout, index.dims, index.label_values) == ("pairs2d", 2, (0, 255))
    data = load_case(index, index.cases[0])
    assert data.image.shape == (1, 13, 9)                      # x = column first
    np.testing.assert_array_equal(data.image[0], rows["im0"].T)
    assert data.label[0, 3:10, 2:5].min() == 1 and data.label.sum() == 21


def test_metaimage_promise12_layout(tmp_path):
    import SimpleITK as sitk

    rng = np.random.default_rng(0)
    image, label = volume(rng)
    for name, arr in (("Case00", image), ("Case00_segmentation", label), ("Case01", image)):
        img = sitk.GetImageFromArray(np.transpose(arr, (2, 1, 0)))   # sitk wants z, y, x
        img.SetSpacing((0.6, 0.6, 3.6))
        img.SetOrigin((5.0, -3.0, 12.0))
        sitk.WriteImage(img, str(tmp_path / f"{name}.mhd"))
    index = load_dataset(tmp_path)
    assert index.layout == "mhd"
    assert [c.id for c in index.cases] == ["Case00"] and [c.id for c in index.test_cases] == ["Case01"]
    data = load_case(index, index.cases[0])
    np.testing.assert_array_equal(data.image[0], image)
    assert data.geometry.spacing == pytest.approx((0.6, 0.6, 3.6))
    assert data.geometry.origin == pytest.approx((5.0, -3.0, 12.0))


def test_dicom_series_with_mask(tmp_path):
    rng = np.random.default_rng(0)
    stored = rng.integers(0, 2000, (8, 6, 4)).astype(np.uint16)
    geom = Geometry((0.5, 0.5, 2.0), (-10.0, -20.0, 30.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    for case in ("p1", "p2"):
        dicom_series(tmp_path / case / "image", stored)
        mask = (stored > 1000).astype(np.uint8)
        write_image(tmp_path / case / "mask.nii.gz", mask, geom)
    index = load_dataset(tmp_path)
    assert index.layout == "dicom" and index.channel_names == ("CT",)
    data = load_case(index, index.cases[0])
    np.testing.assert_allclose(data.image[0], stored * 2.0 - 1000.0)   # rescale applied
    assert data.geometry.matches(geom)
    np.testing.assert_array_equal(data.label[0], stored > 1000)


@pytest.mark.parametrize("suffix", [".nii.gz", ".mhd", ".nrrd"])
def test_write_keeps_geometry(tmp_path, suffix):
    rot = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    geom = Geometry((0.7, 0.9, 3.0), (1.5, -2.0, 40.0), tuple(rot.ravel()))
    arr = np.arange(5 * 4 * 3, dtype=np.int64).reshape(5, 4, 3)   # a prediction's dtype
    path = write_image(tmp_path / f"seg{suffix}", arr, geom)
    back, g = read_image(path)
    np.testing.assert_array_equal(back[0], arr)
    assert back.dtype == np.uint8                             # label maps written compactly
    assert g.matches(geom), (g, geom)
    assert not list(tmp_path.glob(".*"))                      # no temp files left behind


def test_nifti_single_slices_are_a_2d_dataset(tmp_path):
    from nasdsl.data import make_synthetic_dataset

    make_synthetic_dataset(tmp_path / "s2", dims=2, cases=2, tests=0, size=32)
    index = load_dataset(tmp_path / "s2")
    data = load_case(index, index.cases[0])
    assert index.dims == 2 and data.image.ndim == 3
    assert data.geometry.spacing == pytest.approx((0.8, 1.2))


def test_nnunet_v2_png_dataset_is_2d(tmp_path):
    from PIL import Image

    for d in ("imagesTr", "labelsTr"):
        (tmp_path / d).mkdir()
    for k in range(2):
        img = np.full((6, 8), 50 + k, np.uint8)
        lab = np.zeros((6, 8), np.uint8)
        lab[1:3, 2:6] = 1
        Image.fromarray(img).save(tmp_path / "imagesTr" / f"c_{k:03d}_0000.png")
        Image.fromarray(lab).save(tmp_path / "labelsTr" / f"c_{k:03d}.png")
    (tmp_path / "dataset.json").write_text(
        '{"channel_names": {"0": "rescale_to_0_1"}, "labels": {"background": 0, "x": 1}, '
        '"numTraining": 2, "file_ending": ".png"}')
    index = load_dataset(tmp_path)
    data = load_case(index, index.cases[1])
    assert (index.layout, index.dims, data.image.shape) == ("nnunet", 2, (1, 8, 6))
    assert data.label.sum() == 8 and data.image.max() == 51
