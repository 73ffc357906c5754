"""The planted-signal task of tests/specs/planted.nas: white-noise images whose label is
`image > 0`, voxel by voxel. The network that passes the signal through unchanged
(`identity` on the edge from `signal`) segments it perfectly; every other candidate
loses information, so an engine that learns must find it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SPEC = Path(__file__).resolve().parent / "specs" / "planted.nas"
NODE = "Pick.n[0]"                 # the inputs decision: keep 1 of [s0, s1]
SIGNAL_EDGE = "Pick.n[0].s0"       # the op decision on the edge from `signal`
PLANTED = {NODE: ("s0",), SIGNAL_EDGE: "identity"}


def make_planted_dataset(root: Path, cases: int = 8, size: int = 32, seed: int = 0) -> Path:
    """`cases` training cases (no test cases) in the MSD layout; returns the folder."""
    from nasdsl.data.geometry import Geometry
    from nasdsl.data.msdwriter import MsdWriter

    writer = MsdWriter(root, {"name": "planted", "description": "label = image > 0",
                              "tensorImageSize": "3D", "modality": {"0": "noNorm"},
                              "labels": {"0": "background", "1": "positive"}})
    rng = np.random.default_rng(seed)
    for k in range(cases):
        image = rng.normal(0.0, 1.0, (size, size, 1)).astype(np.float32)
        label = (image > 0).astype(np.uint8)
        writer.add(f"planted_{k:03d}", image, label, Geometry.identity((1.0, 1.0, 1.0)))
    writer.finish()
    return root
