"""`nasdsl train / export / infer / eval` end to end on a tiny 2D synthetic dataset.

One uninterrupted run (module fixture) is the reference for: SIGKILL mid-epoch + --resume
(bitwise equal weights), two gloo processes under torchrun (same global batch), and
export -> ONNX Runtime inference (same prediction as PyTorch).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")

from click.testing import CliRunner  # noqa: E402

from conftest import ROOT, SPECS  # noqa: E402
from nasdsl.cli import main  # noqa: E402

TRAIN = [str(SPECS / "unet.nas"), "-D", "base=4", "-D", "depth=2", "-D", "classes=4",
         "--epochs", "2", "--steps-per-epoch", "6", "--batch", "2", "--patch", "32x32",
         "--checkpoint-every", "2", "--folds", "3", "--no-progress", "--device", "cpu"]


def _env() -> dict[str, str]:
    # one thread: bitwise-reproducible and fast on a shared 2-core machine
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


pytestmark = pytest.mark.usefixtures("one_thread")


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def reference_run(dataset, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "whole"
    code, output = cli("train", *TRAIN, "--data", str(dataset), "--out", str(out))
    assert code == 0, output
    return out


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "checkpoints" / "last.pt", weights_only=True)["model"]


def _records(run: Path) -> list[dict]:
    path = run / "metrics.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # the line being written
    return out


def test_run_directory_contents(reference_run):
    manifest = json.loads((reference_run / "manifest.json").read_text())
    assert manifest["seed"] == 0 and manifest["versions"]["torch"]
    assert manifest["spec"]["genotype_hash"] and manifest["split"]["val"]
    assert manifest["command"] and manifest["plan"]["patch_size"] == [32, 32]
    steps = [r for r in _records(reference_run) if "loss" in r]
    assert [r["step"] for r in steps] == list(range(1, 13))
    assert any(r.get("event") == "epoch" and "val_dice" in r for r in _records(reference_run))
    assert (reference_run / "checkpoints" / "best.pt").is_file()


def test_sigkill_mid_epoch_then_resume_gives_the_same_weights(dataset, reference_run,
                                                               tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "nasdsl.cli", "train", *TRAIN, "--data", str(dataset),
           "--out", str(out)]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if any(r.get("step", 0) >= 3 and "loss" in r for r in _records(out)):
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    assert not any(r.get("event") == "done" for r in _records(out))
    kept = torch.load(out / "checkpoints" / "last.pt", weights_only=True)["position"]
    assert 2 <= kept["global_step"] < 12
    code, output = cli("train", "--out", str(out), "--resume", "--no-progress")
    assert code == 0, output
    assert any(r.get("event") == "resume" for r in _records(out))
    ref, got = _weights(reference_run), _weights(out)
    assert ref.keys() == got.keys()
    for k in ref:
        assert torch.equal(ref[k], got[k]), k


def test_ddp_two_gloo_processes_match_one_process(dataset, reference_run, tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           "--nproc_per_node=2", "-m", "nasdsl.cli", "train", *TRAIN,
           "--data", str(dataset), "--out", str(out)]
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["world_size"] == 2
    ref, got = _weights(reference_run), _weights(out)
    for k in ref:
        torch.testing.assert_close(got[k], ref[k], rtol=1e-4, atol=1e-5, msg=k)
    losses = [r["loss"] for r in _records(out) if "loss" in r]
    ref_losses = [r["loss"] for r in _records(reference_run) if "loss" in r]
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-4)


def test_export_then_onnx_inference_reproduces_pytorch(dataset, reference_run, tmp_path):
    from nasdsl.infer.predict import open_model
    from nasdsl.train.validate import case_probabilities

    onnx_path = tmp_path / "model.onnx"
    code, output = cli("export", str(reference_run), "-o", str(onnx_path))
    assert code == 0, output
    sidecar = json.loads((tmp_path / "model.onnx.json").read_text())
    assert sidecar["plan"]["label_names"] == ["background", "organ", "lesion", "vessel"]
    assert sidecar["infer"]["window"] == [32, 32] and sidecar["genotype_hash"]
    torch_model, ort_model = open_model(reference_run, "cpu"), open_model(onnx_path, "cpu")
    x = torch.randn(1, 45, 37, generator=torch.Generator().manual_seed(0))  # any size
    for mode in ("sliding", "whole"):
        shape = torch_model.shape.__class__(**{**torch_model.shape.__dict__, "mode": mode})
        a = case_probabilities(torch_model.predictor, x, shape)
        b = case_probabilities(ort_model.predictor, x, shape)
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    images = sorted((dataset / "imagesTs").iterdir())
    outs = {}
    for name, model in (("pt", str(reference_run)), ("onnx", str(onnx_path))):
        code, output = cli("infer", model, *map(str, images), "--out", str(tmp_path / name),
                           "--tta", "--no-progress")
        assert code == 0, output
        outs[name] = sorted((tmp_path / name).iterdir())
    import nibabel as nib

    for img, a, b in zip(images, outs["pt"], outs["onnx"]):
        ref, pa, pb = nib.load(img), nib.load(a), nib.load(b)
        assert pa.shape == ref.shape and np.allclose(pa.affine, ref.affine)
        assert np.array_equal(np.asarray(pa.dataobj), np.asarray(pb.dataobj))


def test_eval_writes_csv_and_table(dataset, reference_run, tmp_path):
    csv_path = tmp_path / "scores.csv"
    code, output = cli("eval", str(dataset / "labelsTr"), "--data", str(dataset),
                       "--csv", str(csv_path), "--no-progress")
    assert code == 0, output
    rows = csv_path.read_text().splitlines()
    assert rows[0] == "case,class,name,dice,iou,hd95,surface_dice"
    mean = [r for r in rows if r.startswith("mean,")]
    # labels scored against themselves: perfect wherever a class is present
    assert mean and all(r.split(",")[3] == "1.0000" for r in mean)
    assert "mean" in output and "surface_dice" in output
    code, output = cli("eval", str(reference_run), "--data", str(dataset), "--no-progress")
    assert code == 0, output
    assert (reference_run / "eval.csv").is_file()


def test_channel_mismatch_and_existing_run_are_clear_errors(dataset, reference_run):
    code, output = cli("train", *TRAIN, "-D", "in_channels=2", "--data", str(dataset),
                       "--out", str(reference_run.parent / "never"))
    assert code == 2 and "in_channels" in output and "Traceback" not in output
    code, output = cli("train", *TRAIN, "--data", str(dataset), "--out", str(reference_run))
    assert code == 2 and "already holds a run" in output


def test_nan_loss_stops_with_message_and_keeps_good_checkpoint(dataset, tmp_path):
    out = tmp_path / "nan"
    code, output = cli("train", *TRAIN, "--lr", "1e30", "--checkpoint-every", "1",
                       "--data", str(dataset), "--out", str(out))
    assert code == 1, output
    assert "the loss became" in output and "Traceback" not in output
    if (out / "checkpoints" / "last.pt").exists():
        state = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
        assert all(torch.isfinite(t).all() for t in state["model"].values())


def test_init_from_loads_weights_and_refuses_misfits(dataset, reference_run, tmp_path):
    best = torch.load(reference_run / "checkpoints" / "best.pt", weights_only=True)["model"]
    code, output = cli("train", *TRAIN, "--epochs", "1", "--steps-per-epoch", "1",
                       "--lr", "0", "--init-from", str(reference_run), "--data",
                       str(dataset), "--out", str(tmp_path / "init"))
    assert code == 0, output
    got = _weights(tmp_path / "init")
    assert all(torch.equal(got[k], best[k]) for k in best)  # lr 0: the weights it started from
    bad = tmp_path / "bad.pt"
    torch.save({"nope": torch.zeros(1)}, bad)
    code, output = cli("train", *TRAIN, "--init-from", str(bad), "--data", str(dataset),
                       "--out", str(tmp_path / "bad"))
    assert code == 2 and "do not fit the network" in output and "Traceback" not in output


@pytest.mark.parametrize("damage", ["drop_infer", "nan_overlap", "empty_norm"])
def test_damaged_manifest_sections_are_named(dataset, reference_run, tmp_path, damage):
    """A run directory from someone else whose manifest lacks `infer` or holds a NaN or an
    empty normalisation: infer, eval and export name the field (exit 2), write nothing."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(reference_run, run)
    manifest = json.loads((run / "manifest.json").read_text())
    field = {"drop_infer": "`infer`", "nan_overlap": "infer.overlap",
             "empty_norm": "plan.normalization"}[damage]
    if damage == "drop_infer":
        del manifest["infer"]
    elif damage == "nan_overlap":
        manifest["infer"]["overlap"] = float("nan")
    else:
        manifest["plan"]["normalization"] = []
    (run / "manifest.json").write_text(json.dumps(manifest))
    image = sorted((dataset / "imagesTs").iterdir())[0]
    for args in (["infer", str(run), str(image), "--out", str(tmp_path / "seg"),
                  "--device", "cpu", "--no-progress"],
                 ["eval", str(run), "--data", str(dataset), "--csv", str(tmp_path / "e.csv"),
                  "--no-progress"],
                 ["export", str(run), "-o", str(tmp_path / "m.onnx")]):
        code, output = cli(*args)
        assert code == 2 and field in output and "manifest.json" in output, (args, output)
    assert not (tmp_path / "seg").exists() and not (tmp_path / "m.onnx").exists()
    assert not (tmp_path / "e.csv").exists()
def test_no_progress_keeps_the_per_epoch_validation_lines(dataset, tmp_path):
    """#18.7: --no-progress dropped the bars *and* the validation Dice of each epoch."""
    args = [a if a != "2" or i != TRAIN.index("--epochs") + 1 else "1"
            for i, a in enumerate(TRAIN)]
    code, output = cli("train", *args, "--data", str(dataset), "--out", str(tmp_path / "r"))
    assert code == 0, output
    assert "epoch 1/1: step 6, validation Dice" in output


def test_eval_of_a_run_scores_exactly_its_validation_split(dataset, reference_run):
    """--cases auto (and val) on a run: the manifest's validation cases, no others."""
    from nasdsl.infer.evaluate import evaluate

    val = json.loads((reference_run / "manifest.json").read_text())["split"]["val"]
    for cases in ("auto", "val"):
        scores, _ = evaluate(reference_run, dataset, cases=cases, progress=False)
        assert sorted(s.case for s in scores) == sorted(val) and val


def test_export_falls_back_to_the_last_checkpoint_and_refuses_a_run_without_one(
        reference_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(reference_run, run)
    (run / "checkpoints" / "best.pt").unlink()
    code, output = cli("export", str(run), "-o", str(tmp_path / "m.onnx"))
    assert code == 0, output
    assert json.loads((tmp_path / "m.onnx.json").read_text())["checkpoint"]["checkpoint"] \
        == "last"
    (run / "checkpoints" / "last.pt").unlink()
    code, output = cli("export", str(run), "-o", str(tmp_path / "n.onnx"))
    assert code == 2 and "has no checkpoint yet" in output and "Traceback" not in output
    assert not (tmp_path / "n.onnx").exists() and not (tmp_path / "n.onnx.json").exists()
