"""Search runs as processes: resume after SIGKILL, two-process gloo DDP; the engine
registry as the front end sees it (settings checked, `check --engine`)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nasdsl.api import compile_spec
from nasdsl.diagnostics import NasError

ROOT = Path(__file__).resolve().parent.parent
TINY = ["-D", "C=8", "-D", "levels=2", "-D", "patch=32", "-D", "classes=4"]
SETS = ["--set", "batch_size=2", "--set", "warmup_epochs=0", "--set", "arch_every=1"]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def _search_cmd(data: str, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "nasdsl.cli", "search", str(ROOT / "specs/thrifty_nas.nas"),
            "--engine", "proxyless", "--data", data, "--out", str(out), *TINY, *SETS,
            "--set", "epochs=2", "--set", "steps_per_epoch=4", "--checkpoint-every", "1",
            "--no-progress", *extra]


@pytest.fixture(scope="module")
def synth2d(tmp_path_factory) -> str:
    from nasdsl import data   # an import error here must fail, not skip

    root = tmp_path_factory.mktemp("synth")
    return str(Path(data.make_synthetic_dataset(root / "d2", dims=2, cases=4, tests=0,
                                                size=32)).parent)


def _steps_logged(run: Path) -> int:
    path = run / "metrics.jsonl"
    if not path.exists():
        return 0
    return sum('"step"' in line and '"event"' not in line for line in
               path.read_text().splitlines())


def test_resume_after_sigkill_reproduces_the_uninterrupted_run(synth2d, tmp_path):
    torch = pytest.importorskip("torch")
    whole = tmp_path / "whole"
    subprocess.run(_search_cmd(synth2d, whole), check=True, env=_env(), capture_output=True)
    cut = tmp_path / "cut"
    proc = subprocess.Popen(_search_cmd(synth2d, cut), env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while _steps_logged(cut) < 3 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (cut / "genotype.nas").exists(), "the run finished before it was killed"
    assert (cut / "checkpoints" / "last.pt").exists()
    subprocess.run([sys.executable, "-m", "nasdsl.cli", "search", "--resume", "--out",
                    str(cut), "--no-progress", "--checkpoint-every", "1"],
                   check=True, env=_env(), capture_output=True)
    body = lambda p: [l for l in p.read_text().splitlines() if "(run " not in l]  # noqa: E731
    assert body(whole / "genotype.nas") == body(cut / "genotype.nas")
    a = torch.load(whole / "supernet.pt", weights_only=True)
    b = torch.load(cut / "supernet.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    events = [json.loads(l) for l in (cut / "metrics.jsonl").read_text().splitlines()]
    assert any(e.get("event") == "resume" for e in events)


def test_a_resumed_search_counts_the_time_spent_before_the_kill(synth2d, tmp_path, one_thread,
                                                                monkeypatch):
    """The time budget covers the whole search: a checkpoint keeps the seconds spent, so
    a search interrupted after most of its budget stops after one more epoch when
    resumed, instead of starting a fresh budget (the clock is faked: 1000 s per reading
    before the interruption, 1 s after)."""
    import types

    import torch

    import nasdsl.engines.loop as L

    now = {"t": 0.0, "step": 1000.0}

    def monotonic() -> float:
        now["t"] += now["step"]
        return now["t"]
    monkeypatch.setattr(L, "time", types.SimpleNamespace(monotonic=monotonic))
    real_log_epoch, calls = L._log_epoch, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:   # killed in the second epoch, before its checkpoint
            raise KeyboardInterrupt
        return real_log_epoch(*args, **kwargs)
    monkeypatch.setattr(L, "_log_epoch", interrupted)
    out = tmp_path / "clock"
    opts = L.SearchOptions(str(ROOT / "specs/thrifty_nas.nas"), synth2d, str(out), "random",
                           {"C": 8, "levels": 2, "patch": 32, "classes": 4},
                           {"batch_size": 2, "epochs": 5, "steps_per_epoch": 1},
                           device="cpu", progress=False, time_budget=1e9)
    with pytest.raises(KeyboardInterrupt):
        L.search(opts)
    spent = torch.load(out / "checkpoints" / "last.pt", weights_only=True)["position"]
    assert spent["epoch"] == 1 and spent["seconds"] >= 1000
    monkeypatch.setattr(L, "_log_epoch", real_log_epoch)
    now["step"] = 1.0
    L.search(dataclasses.replace(opts, resume=True, time_budget=spent["seconds"] / 2))
    events = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    resumed = events[next(i for i, e in enumerate(events) if e.get("event") == "resume"):]
    assert resumed[0]["seconds"] == pytest.approx(spent["seconds"], abs=1e-3)
    assert [e["epoch"] for e in resumed if e.get("event") == "epoch"] == [1]
    assert any(e.get("event") == "time_budget" for e in resumed)


def test_two_process_gloo_search_agrees_on_every_rank(synth2d, tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
           "--master_port", str(29500 + os.getpid() % 400), "-m", "nasdsl.cli", "search",
           str(ROOT / "specs/thrifty_nas.nas"), "--engine", "proxyless", "--data", synth2d,
           "--out", str(tmp_path / "ddp"), *TINY, *SETS, "--set", "epochs=1",
           "--set", "steps_per_epoch=2", "--device", "cpu", "--no-progress", "--json"]
    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    ranks = [json.loads(l) for l in done.stdout.splitlines() if l.startswith("{")]
    assert sorted(r["rank"] for r in ranks) == [0, 1]
    assert len({r["genotype_hash"] for r in ranks}) == 1
    assert len({r["digest"] for r in ranks}) == 1   # same weights and alphas everywhere


def _space(tmp_path: Path, settings: str) -> str:
    path = tmp_path / "s.nas"
    path.write_text("space S {\n  param dims = 2\n  input x(channels=1, size=32)\n"
                    f"  output y = conv(x, 2, 1)\n  search {{\n{settings}  }}\n}}\n")
    return str(path)


def test_search_settings_are_checked_against_the_engine(tmp_path):
    with pytest.raises(NasError) as err:
        compile_spec(_space(tmp_path, "    engine = enas\n    childern_per_episode = 20\n"
                                      "    temperature = -1.0\n    first_child_max = 3\n"))
    text = "\n".join(d.render() for d in err.value.diagnostics)
    assert "did you mean `children_per_episode`?" in text
    assert "`temperature` must be in [0, 1000000]" in text
    assert "`first_child_max` must be true or false" in text
    assert ":7:5: error[E0424]" in text          # the unknown setting's own line
    with pytest.raises(NasError):
        compile_spec(_space(tmp_path, "    engine = pc_darts\n    k = 2.5\n"))
    compile_spec(_space(tmp_path, "    engine = pc_darts\n    k = 2\n"))


@pytest.mark.parametrize("spec,engine,ok", [("ronasmis.nas", "darts", False),
                                            ("ronasmis.nas", "enas", True),
                                            ("nas_unet.nas", "pc_darts", True),
                                            ("thrifty_nas.nas", "proxyless", True)])
def test_check_engine_reports_the_pairing(spec, engine, ok):
    from click.testing import CliRunner

    from nasdsl.cli import main

    res = CliRunner().invoke(main, ["check", "-q", str(ROOT / "specs" / spec),
                                    "--engine", engine])
    assert res.exit_code == (0 if ok else 1)
    if ok:
        assert f"engine {engine}: ok" in res.output
    else:
        assert "cannot search `patch_hw`: it is a structural decision" in res.output
        assert "enas, random" in res.output


def test_search_time_budget_stops_after_the_epoch_that_spends_it(synth2d, tmp_path,
                                                                  one_thread):
    """`nasdsl run --time-budget` gives the search a share of the time (#18.5): the
    search ends after the epoch in which it ran out, derives, and logs why; it also logs
    the entropy before any step, so the table can say how far the architecture moved."""
    from nasdsl.engines.loop import SearchOptions, search

    out = tmp_path / "tb"
    opts = SearchOptions(str(ROOT / "specs/thrifty_nas.nas"), synth2d, str(out), "proxyless",
                         {"C": 8, "levels": 2, "patch": 32, "classes": 4},
                         {"batch_size": 2, "warmup_epochs": 0, "arch_every": 1,
                          "epochs": 5, "steps_per_epoch": 2},
                         device="cpu", progress=False, time_budget=1e-3)
    result = search(opts)
    events = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert events[0]["event"] == "start" and events[0]["entropy"] > 0
    assert [e["epoch"] for e in events if e.get("event") == "epoch"] == [0]
    assert any(e.get("event") == "time_budget" for e in events)
    assert Path(result["genotype"]).is_file()
