"""Fingerprint, the RONASMIS patch rule, preprocessing, splits, deterministic sampling and
augmentation, and the built-in datasets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")

from data_fixtures import msd, write_nifti  # noqa: E402
from nasdsl.data import (DataModule, Preprocessor, ShardSampler, fingerprint,  # noqa: E402
                         load_case, load_dataset, make_mni_dataset, make_plan, make_split,
                         make_synthetic_dataset, ronasmis_candidates, ronasmis_patch,
                         save_split, load_split, target_spacing, AugmentConfig)

SPECS = Path(__file__).resolve().parent.parent / "specs"


def _known_case(root: Path) -> Path:
    image = np.zeros((20, 20, 10), np.float32)
    image[5:15, 5:15, 2:8] = 10.0
    image[8:12, 8:12, 4:5] = 20.0
    image[8:12, 8:12, 5:6] = 40.0
    label = np.zeros((20, 20, 10), np.uint8)
    label[8:12, 8:12, 4:6] = 1
    write_nifti(root / "imagesTr" / "k.nii.gz", image, (1.0, 1.0, 2.0))
    write_nifti(root / "labelsTr" / "k.nii.gz", label, (1.0, 1.0, 2.0))
    (root / "dataset.json").write_text(json.dumps({
        "modality": {"0": "MRI"}, "labels": {"0": "background", "1": "fg"},
        "training": [{"image": "./imagesTr/k.nii.gz", "label": "./labelsTr/k.nii.gz"}]}))
    return root


def test_fingerprint_of_a_known_case(tmp_path):
    fp = fingerprint(load_dataset(_known_case(tmp_path)))
    assert fp["shapes_after_crop"] == [[10, 10, 6]]
    assert fp["median_spacing"] == [1.0, 1.0, 2.0] == fp["target_spacing"]
    assert fp["median_relative_size_after_cropping"] == pytest.approx(600 / 4000)
    st = fp["foreground_intensity_properties_per_channel"]["MRI"]
    assert (st["mean"], st["median"], st["std"], st["min"], st["max"]) == \
        pytest.approx((30.0, 30.0, 10.0, 20.0, 40.0))
    assert fp["class_fractions"] == pytest.approx({"background": 1 - 32 / 600, "fg": 32 / 600})
    json.dumps(fp)                                       # JSON-serialisable


def test_target_spacing_anisotropy_rule():
    spacings = np.array([[1, 1, 5], [1, 1, 6], [1, 1, 4]], float)
    flat = np.array([[100, 100, 10]] * 3, float)
    assert target_spacing(spacings, flat).tolist() == pytest.approx([1, 1, 4.2])
    deep = np.array([[100, 100, 50]] * 3, float)         # enough slices: keep the median
    assert target_spacing(spacings, deep).tolist() == pytest.approx([1, 1, 5])


def test_ronasmis_patch_rule_feeds_the_spec():
    from nasdsl.api import compile_spec, parse_override

    assert ronasmis_candidates(170) == [160, 144, 128, 112, 96]
    assert ronasmis_candidates(40) == [32, 16]
    assert ronasmis_candidates(10) == [16]               # never empty
    r = ronasmis_patch([150.0, 170.0, 40.0])             # H/W from max(H, W)
    assert (r["patch_hw"], r["patch_d"]) == ([160, 144, 128, 112, 96], [32, 16])
    defines = dict(parse_override(d) for d in r["defines"].split() if d != "-D")
    table = compile_spec(str(SPECS / "ronasmis.nas"), defines).table
    assert list(table.get("patch_hw").domain) == r["patch_hw"]
    assert list(table.get("patch_d").domain) == r["patch_d"]


def test_preprocess_restore_round_trip_anisotropic(tmp_path):
    make_synthetic_dataset(tmp_path, dims=3, cases=2, tests=0, size=32)
    index = load_dataset(tmp_path)
    plan = make_plan(index, fingerprint(index), target_spacing=[1.5, 1.5, 2.0])
    data = load_case(index, index.cases[0])
    pre = Preprocessor(plan)(data)
    assert pre.props["separate_axis"] == 2                # 3.5 mm vs 1 mm: anisotropic
    assert pre.image.shape[1:] == pre.label.shape[1:]
    fg = pre.image[0][pre.image[0] != 0]
    assert abs(fg.mean()) < 0.2 and abs(fg.std() - 1) < 0.2
    back = Preprocessor(plan).restore(pre.label, pre.props)
    assert back.shape == data.label.shape
    inter = np.sum((back > 0) & (data.label > 0))
    assert 2 * inter / (np.sum(back > 0) + np.sum(data.label > 0)) > 0.85


def test_split_is_recorded_and_k_fold(tmp_path):
    index = load_dataset(msd(tmp_path / "d", cases=5))
    folds = [make_split(index, seed=3, k_folds=5, fold=f) for f in range(5)]
    assert sorted(v for s in folds for v in s["val"]) == sorted(c.id for c in index.cases)
    assert all(not set(s["train"]) & set(s["val"]) for s in folds)
    save_split(folds[2], tmp_path / "run" / "split.json")
    assert load_split(tmp_path / "run" / "split.json", index) == folds[2]
    assert make_split(index, seed=3, k_folds=5, fold=2) == folds[2]


def _module(root: Path, seed: int, dims: int | None = None, **kw) -> DataModule:
    index = load_dataset(root)
    plan = make_plan(index, fingerprint(index), dims=dims,
                     patch_size=[24, 24] if dims == 2 else [24, 24, 8])
    strong = AugmentConfig(p_affine=0.5, p_noise=0.5, p_bias=0.5, p_gamma=0.5,
                           p_elastic=0.5 if dims == 2 else 0.0)
    return DataModule(index, plan, make_split(index, 0, 2, 0), seed=seed, batch_size=2,
                      batches_per_epoch=3, augment_config=strong, **kw)


def _batches(dm: DataModule, epoch: int, **kw) -> list[dict]:
    return list(dm.train_loader(epoch, **kw))


def test_sampling_and_augmentation_are_deterministic(tmp_path):
    make_synthetic_dataset(tmp_path, dims=3, cases=4, tests=0, size=32)
    a, b = _batches(_module(tmp_path, 7), 1), _batches(_module(tmp_path, 7), 1)
    assert len(a) == 3 and a[0]["image"].shape == (2, 1, 24, 24, 8)
    assert a[0]["image"].dtype == torch.float32 and a[0]["label"].dtype == torch.int64
    for x, y in zip(a, b):
        assert torch.equal(x["image"], y["image"]) and torch.equal(x["label"], y["label"])
    other = _batches(_module(tmp_path, 8), 1)
    assert not torch.equal(a[0]["image"], other[0]["image"])
    next_epoch = _batches(_module(tmp_path, 7), 2)
    assert not torch.equal(a[0]["image"], next_epoch[0]["image"])
    # resume mid-epoch: batches from 1 on equal the uninterrupted run's
    resumed = _batches(_module(tmp_path, 7), 1, start_batch=1)
    assert all(torch.equal(x["image"], y["image"]) for x, y in zip(a[1:], resumed))
    # two ranks with batch 2 each = one process with batch 4
    one = _module(tmp_path, 7)
    one.batch_size = 4
    whole = _batches(one, 1)
    ranks = [_batches(_module(tmp_path, 7), 1, rank=r, world_size=2) for r in (0, 1)]
    for b_idx, batch in enumerate(whole):
        joined = torch.cat([ranks[0][b_idx]["image"], ranks[1][b_idx]["image"]])
        assert torch.equal(batch["image"], joined)


def test_foreground_oversampling_and_slices2d(tmp_path):
    make_synthetic_dataset(tmp_path, dims=3, cases=2, tests=0, size=32)
    elastic = [_batches(_module(tmp_path, 3, dims=2), 0) for _ in range(2)]
    assert all(torch.equal(x["image"], y["image"]) for x, y in zip(*elastic))
    dm = _module(tmp_path, 0, dims=2, augment=False)
    dm.plan.oversample_foreground = 1.0
    ds = dm.train_dataset()
    items = [ds[i] for i in range(8)]
    assert items[0]["image"].shape == (1, 24, 24)
    assert all(int((it["label"] > 0).sum()) > 0 for it in items)


def test_shard_sampler_covers_each_global_batch_once():
    parts = [list(ShardSampler(12, 2, r, 3)) for r in range(3)]
    assert sorted(i for p in parts for i in p) == list(range(12))
    assert list(ShardSampler(12, 2, 0, 3, start_batch=1)) == [6, 7]


def test_synthetic_data_is_deterministic(tmp_path):
    for run in ("a", "b"):
        make_synthetic_dataset(tmp_path / run, dims=3, cases=2, tests=1, seed=5, size=24)
    ia, ib = load_dataset(tmp_path / "a"), load_dataset(tmp_path / "b")
    assert ia.label_names == ("background", "organ", "lesion", "vessel")
    assert len(ia.cases) == 2 and len(ia.test_cases) == 1
    for ca, cb in zip(ia.cases, ib.cases):
        da, db = load_case(ia, ca), load_case(ib, cb)
        np.testing.assert_array_equal(da.image, db.image)
        assert set(np.unique(da.label)) == {0, 1, 2, 3}
        assert da.geometry.spacing == pytest.approx((1.0, 1.0, 3.5))


def test_mni_task_offline_small(tmp_path):
    pytest.importorskip("nilearn")
    make_mni_dataset(tmp_path, cases=1, tests=1, seed=0, resolution=8.0)
    index = load_dataset(tmp_path)
    meta = json.loads((tmp_path / "dataset.json").read_text())
    assert "ONE template" in meta["description"]
    assert index.label_names == ("background", "gray_matter", "white_matter")
    assert len(index.cases) == 1 and len(index.test_cases) == 1
    assert (tmp_path / "labelsTs" / "mni_001.nii.gz").is_file()
    cases = [load_case(index, c) for c in index.cases + index.test_cases]
    for c in cases:
        counts = np.bincount(c.label.ravel(), minlength=3)
        assert counts[1] > counts[2] > 0.02 * counts.sum()    # GM > WM, both present
        assert c.geometry.spacing == pytest.approx((8.0, 8.0, 8.0))
        assert c.image.shape == (1, 25, 30, 24)                # the 1 mm template's FOV
    assert not np.array_equal(cases[0].image, cases[1].image)  # deformed differently


def test_suggested_patch_rounds_up_then_fits_the_budget():
    from nasdsl.data import suggest_patch

    assert suggest_patch([40, 30, 12]) == [48, 32, 16]        # whole image in one patch
    assert suggest_patch([300, 300, 200]) == [128, 128, 128]  # 128^3 voxel budget
    assert suggest_patch([1000, 800]) == [512, 512]
