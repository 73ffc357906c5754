"""Hostile datasets and images through every command that reads them (issue 15 rows 3, 5).

Each case of tests/hostile_data.py runs as a subprocess: exit 1 or 2, a message naming the
file and the field, no traceback, no hang, the child's peak RSS under RSS_BOUND_MIB
(the files declare 268 MB to 1.6 GB and more), nothing of the secret outside the dataset
printed, and the tree (dataset, outside secret, working directory) unchanged apart from
the command's own output folder.

The default suite runs every case through `data inspect` (no torch: about a second each)
and the images through `infer`; `train`, `eval`, `search` and `run --data` over the whole
corpus are @slow (torch start-up per case).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("nibabel")

from conftest import SPECS  # noqa: E402
from hostile_data import DATASETS, IMAGES, SECRET, resample_300mm  # noqa: E402
from hostile_run import assert_refused, run_cli, snapshot  # noqa: E402

# The command's own start-up (numpy, nibabel, SimpleITK; torch + MONAI for train/infer)
# stays well under this; any of the declared sizes would exceed it.
RSS_BOUND_MIB = 1024


def _check(tmp: Path, args: list[str], hostile, out: Path | None = None) -> None:
    skip = (out,) if out is not None else ()
    before = snapshot(tmp, skip)
    res = run_cli(args, cwd=tmp, env=hostile.env)
    assert_refused(res, hostile.expect, RSS_BOUND_MIB)
    assert SECRET not in res.out and "root:x:0" not in res.out, res.out
    assert snapshot(tmp, skip) == before


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_data_inspect_refuses(name, tmp_path):
    hostile = DATASETS[name](tmp_path)
    _check(tmp_path, ["data", "inspect", str(hostile.data)], hostile)


def test_data_inspect_json_output_not_written_on_refusal(tmp_path):
    hostile = DATASETS["mhd_passwd"](tmp_path)
    out = tmp_path / "fp.json"
    _check(tmp_path, ["data", "inspect", str(hostile.data), "-o", str(out)], hostile)
    assert not out.exists()


def test_env_limit_is_overridable(tmp_path):
    """NASDSL_MAX_VOXELS moves the bound: 1024 voxels refuses the tiny valid dataset."""
    from hostile_data import _valid_msd

    root = _valid_msd(tmp_path / "data")
    ok = run_cli(["data", "inspect", str(root)], cwd=tmp_path)
    assert ok.code == 0, ok.out
    low = run_cli(["data", "inspect", str(root)], cwd=tmp_path,
                  env={"NASDSL_MAX_VOXELS": "100"})
    assert_refused(low, ("case_0.nii.gz", "NASDSL_MAX_VOXELS"), RSS_BOUND_MIB)
    bad = run_cli(["data", "inspect", str(root)], cwd=tmp_path,
                  env={"NASDSL_MAX_VOXELS": "lots"})
    assert_refused(bad, ("NASDSL_MAX_VOXELS", "positive whole number"), RSS_BOUND_MIB)
