"""`train` and `search` compare the network's memory estimate with the free memory before
allocating it (issue 15 row 5): a network that cannot fit stops with both numbers and the
override, in seconds and without creating its run directory."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("nibabel")

from conftest import SPECS  # noqa: E402
from hostile_data import _valid_msd  # noqa: E402
from hostile_run import assert_refused, run_cli, snapshot  # noqa: E402

RSS_BOUND_MIB = 1024
# UNet base 128 at 1024^2 needs ~17.9 GB at batch 2 (`nasdsl check`); at 4096^2 and
# batch 8 it needs over a terabyte, beyond any machine this runs on.
HUGE_UNET = [str(SPECS / "unet.nas"), "-D", "base=128", "-D", "classes=2",
             "--patch", "4096x4096", "--batch", "8"]


def test_train_refuses_a_network_that_cannot_fit(tmp_path):
    data = _valid_msd(tmp_path / "data")
    out = tmp_path / "run"
    before = snapshot(tmp_path)
    res = run_cli(["train", *HUGE_UNET, "--data", str(data), "--out", str(out),
                   "--device", "cpu", "--no-progress"], cwd=tmp_path)
    assert_refused(res, ("unet.nas", "training needs about", "GiB",
                         "batch 8", "4096x4096", "NASDSL_MEMORY_CHECK=off"), RSS_BOUND_MIB)
    assert not out.exists()
    assert snapshot(tmp_path) == before


def test_search_refuses_a_supernet_that_cannot_fit(tmp_path):
    data = _valid_msd(tmp_path / "data")
    out = tmp_path / "run"
    res = run_cli(["search", str(SPECS / "nas_unet.nas"), "--engine", "random",
                   "--data", str(data), "--out", str(out), "-D", "C=512", "-D", "patch=4096",
                   "--set", "batch_size=8", "--device", "cpu", "--no-progress"], cwd=tmp_path)
    assert_refused(res, ("nas_unet.nas", "training needs", "NASDSL_MEMORY_CHECK"),
                   RSS_BOUND_MIB)
    assert not out.exists() or not any(out.iterdir())


def _tiny_graph():
    from nasdsl.api import compile_spec

    return compile_spec(str(SPECS / "unet.nas"), {"base": 4, "depth": 2}).graph


def test_check_fits_compares_estimate_with_free_memory(monkeypatch):
    from nasdsl.analysis.memory import estimate_training_memory
    from nasdsl.train import memcheck

    graph = _tiny_graph()
    need = estimate_training_memory(graph, (64, 64), 2).total
    monkeypatch.setattr(memcheck, "available_memory", lambda dev: (need - 1, "free on test"))
    with pytest.raises(memcheck.MemoryCheckError) as info:
        memcheck.check_fits(graph, (64, 64), 2, "cpu", "net.nas")
    assert "net.nas" in str(info.value) and "free on test" in str(info.value)
    monkeypatch.setattr(memcheck, "available_memory", lambda dev: (need, "free on test"))
    memcheck.check_fits(graph, (64, 64), 2, "cpu", "net.nas")          # just fits
    monkeypatch.setattr(memcheck, "available_memory", lambda dev: (1, "free on test"))
    monkeypatch.setenv("NASDSL_MEMORY_CHECK", "off")
    memcheck.check_fits(graph, (64, 64), 2, "cpu", "net.nas")          # overridden


def test_available_memory_on_cpu_is_positive():
    from nasdsl.train.memcheck import available_memory

    free, where = available_memory("cpu")
    assert free is None or free > 0
    assert "RAM" in where
