"""Write a dataset in the Medical Segmentation Decathlon layout (used by the built-in data)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from nasdsl.data.geometry import Geometry
from nasdsl.data.imageio import write_image


class MsdWriter:
    """imagesTr/labelsTr for training cases, imagesTs/labelsTs for held-out test cases
    (labelsTs is not part of MSD; nasdsl eval uses it), dataset.json written last."""

    def __init__(self, out: str | Path, meta: dict[str, Any]) -> None:
        self.out = Path(out)
        self.meta = dict(meta)
        self.training: list[dict[str, str]] = []
        self.test: list[str] = []

    def add(self, case_id: str, image: np.ndarray, label: np.ndarray, geometry: Geometry,
            test: bool = False) -> None:
        images, labels = ("imagesTs", "labelsTs") if test else ("imagesTr", "labelsTr")
        name = f"{case_id}.nii.gz"
        write_image(self.out / images / name, image, geometry)
        write_image(self.out / labels / name, label.astype(np.uint8), geometry)
        if test:
            self.test.append(f"./{images}/{name}")
        else:
            self.training.append({"image": f"./{images}/{name}", "label": f"./{labels}/{name}"})

    def finish(self) -> Path:
        meta = {**self.meta, "numTraining": len(self.training), "numTest": len(self.test),
                "training": self.training, "test": self.test}
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / "dataset.json"
        fd, tmp = tempfile.mkstemp(dir=self.out, prefix=".dataset.json.")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(meta, f, indent=1)
        os.replace(tmp, path)
        return path
