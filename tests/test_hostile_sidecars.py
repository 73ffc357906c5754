"""Sidecars from someone else (issue 15 row 6): every mutation ends in exit 2 with the
field named, never exit 3, a traceback or an uninitialised array written as a
segmentation; ONNX Runtime's own failures are reported the same way.

All mutations run through `infer` in-process (CliRunner: torch is imported once); the
ones that used to run and write garbage, and a sample of the rest, also as subprocesses
with the RSS bound and the tree snapshot; the whole list as subprocesses is @slow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("nibabel")

from click.testing import CliRunner  # noqa: E402

from hostile_run import assert_refused, run_cli, snapshot  # noqa: E402
from hostile_sidecars import (MUTATIONS, mutated, valid_sidecar, write_image,  # noqa: E402
                              write_model, write_sidecar)

RSS_BOUND_MIB = 1024     # torch + MONAI + ONNX Runtime start-up is ~500-700 MiB
IDS = [m[0] for m in MUTATIONS]
BY_ID = {m[0]: m for m in MUTATIONS}
# norm: [], spacing -1, classes: 0 and overlap NaN ran and wrote an uninitialised array
SUBPROCESS = ["norm_empty", "spacing_negative", "classes_zero", "overlap_nan",
              "missing_infer", "window_huge", "input_name_unknown"]


@pytest.fixture()
def model_dir(tmp_path: Path) -> tuple[Path, Path]:
    model = write_model(tmp_path / "model")
    image = write_image(tmp_path / "scans")
    return model, image


def _infer_in_process(model: Path, image: Path, out: Path) -> tuple[int, str]:
    from nasdsl.cli import main

    result = CliRunner().invoke(main, ["infer", str(model), str(image), "--out", str(out),
                                       "--device", "cpu", "--no-progress"])
    text = result.output + (repr(result.exception) if result.exception and
                            not isinstance(result.exception, SystemExit) else "")
    return result.exit_code, text


def test_valid_sidecar_segments(model_dir, tmp_path):
    """The baseline every mutation starts from works, so each failure is the mutation's."""
    model, image = model_dir
    write_sidecar(model, valid_sidecar())
    code, out = _infer_in_process(model, image, tmp_path / "out")
    assert code == 0, out
    import nibabel as nib

    seg = np.asarray(nib.load(str(tmp_path / "out" / "scan.nii.gz")).dataobj)
    assert seg.shape == (20, 20, 1) and set(np.unique(seg)) <= {0, 1}


@pytest.mark.parametrize("name", IDS)
def test_mutation_names_the_field(name, model_dir, tmp_path):
    model, image = model_dir
    _, edit, field = BY_ID[name]
    sidecar = write_sidecar(model, mutated(edit))
    out = tmp_path / "out"
    code, text = _infer_in_process(model, image, out)
    assert code == 2, text
    assert "Traceback" not in text and "internal error" not in text, text
    assert field in text and sidecar.name in text, text
    assert not out.exists() or not any(out.iterdir()), "a segmentation was written"


@pytest.mark.parametrize("name", SUBPROCESS)
def test_mutation_as_subprocess(name, model_dir, tmp_path):
    _subprocess_case(name, model_dir, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in IDS if n not in SUBPROCESS])
def test_every_mutation_as_subprocess(name, model_dir, tmp_path):
    _subprocess_case(name, model_dir, tmp_path)


def _subprocess_case(name, model_dir, tmp_path) -> None:
    model, image = model_dir
    _, edit, field = BY_ID[name]
    sidecar = write_sidecar(model, mutated(edit))
    out = tmp_path / "out"
    before = snapshot(tmp_path, (out,))
    res = run_cli(["infer", str(model), str(image), "--out", str(out), "--device", "cpu",
                   "--no-progress"], cwd=tmp_path)
    assert_refused(res, (sidecar.name, field), RSS_BOUND_MIB)
    assert snapshot(tmp_path, (out,)) == before
    assert not out.exists() or not any(out.iterdir())


# ---- ONNX Runtime's own errors -----------------------------------------------------------
def test_garbage_onnx_file(model_dir, tmp_path):
    model, image = model_dir
    write_sidecar(model, valid_sidecar())
    model.write_bytes(b"\x08\x07 not a protobuf at all" * 10)
    code, text = _infer_in_process(model, image, tmp_path / "out")
    assert code == 2 and "model.onnx" in text and "ONNX Runtime cannot load it" in text, text


def test_model_takes_other_channels(model_dir, tmp_path):
    """The graph wants 3 channels, the sidecar says 1: ORT's InvalidArgument, reported."""
    model, image = model_dir
    write_model(model.parent, in_channels=3)
    write_sidecar(model, valid_sidecar())
    code, text = _infer_in_process(model, image, tmp_path / "out")
    assert code == 2 and "ONNX Runtime cannot run it" in text, text
    assert "Traceback" not in text


def test_model_gives_other_classes(model_dir, tmp_path):
    model, image = model_dir
    write_model(model.parent, classes=3)
    write_sidecar(model, valid_sidecar())
    code, text = _infer_in_process(model, image, tmp_path / "out")
    assert code == 2 and "3" in text and "as its sidecar says" in text, text


def test_sidecar_fifo_and_link_refused(model_dir, tmp_path):
    import os

    model, image = model_dir
    sidecar = model.with_name("model.onnx.json")
    os.mkfifo(sidecar)
    code, text = _infer_in_process(model, image, tmp_path / "out")
    assert code == 2 and "not a regular file" in text, text
    sidecar.unlink()
    sidecar.symlink_to("/etc/passwd")
    code, text = _infer_in_process(model, image, tmp_path / "out")
    assert code == 2 and "outside" in text and "root:" not in text, text
