"""Medical image data for nasdsl: readers, fingerprint, preprocessing, sampling,
augmentation and the built-in datasets. See docs/DATA.md.

Typical use (what `nasdsl train` does):

    index = load_dataset("data/Task04")               # DataError on bad data
    check_channels(index, in_channels); check_classes(index, classes)
    fp = fingerprint(index)
    plan = make_plan(index, fp, dims=3, patch_size=[64, 64, 32])
    split = make_split(index, seed=0, k_folds=5, fold=0); save_split(split, run / "split.json")
    dm = DataModule(index, plan, split, seed=0, batch_size=2, batches_per_epoch=250)
    for batch in dm.train_loader(epoch):              # {"image", "label", "case"}
        ...
    for case in dm.val_cases(): ...                   # whole preprocessed volumes

Inference: `pre = Preprocessor(plan)`; `x, props = pre.preprocess_image(*read_image(p))`;
predict; `seg = pre.restore(pred, props)`; `write_image(out, seg[0], geometry)`.
"""

from typing import Any

from nasdsl.data.errors import DataError
from nasdsl.data.fingerprint import (fingerprint, ronasmis_candidates, ronasmis_patch,
                                     suggest_patch, target_spacing)
from nasdsl.data.geometry import Geometry
from nasdsl.data.imageio import read_image, write_image
from nasdsl.data.index import (Case, CaseData, DatasetIndex, check_channels, check_classes,
                               load_case)
from nasdsl.data.layouts import LAYOUTS, detect_layout, load_dataset
from nasdsl.data.preprocess import (ChannelNorm, Plan, Preprocessed, Preprocessor,
                                    crop_to_nonzero, make_plan)
from nasdsl.data.split import load_split, make_split, save_split
from nasdsl.data.builtin import make_mni_dataset, make_synthetic_dataset

# NOTE: the torch side (sampling, augmentation, loaders) loads on first use, so that
# `nasdsl data inspect` and the readers do not pay for importing torch and MONAI.
_LAZY = {"AugmentConfig": "augment", "build_augment": "augment", "DataModule": "dataset",
         "PatchDataset": "dataset", "ShardSampler": "dataset"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"nasdsl.data.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'nasdsl.data' has no attribute {name!r}")


__all__ = [
    "AugmentConfig", "Case", "CaseData", "ChannelNorm", "DataError", "DataModule",
    "DatasetIndex", "Geometry", "LAYOUTS", "PatchDataset", "Plan", "Preprocessed",
    "Preprocessor", "ShardSampler", "build_augment", "check_channels", "check_classes",
    "crop_to_nonzero", "detect_layout", "fingerprint", "load_case", "load_dataset",
    "load_split", "make_mni_dataset", "make_plan", "make_split", "make_synthetic_dataset",
    "read_image", "ronasmis_candidates", "ronasmis_patch", "save_split", "suggest_patch",
    "target_spacing", "write_image",
]
