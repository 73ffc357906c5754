"""`nasdsl trials`: a table of tiny trainings, in this process and on a local Ray.

One sequential run of a 4-trial table (module fixture) is the reference: the same table
through Ray, with one worker killed mid-trial, must give bitwise-equal weights per trial
(the killed trial resumes from its checkpoint), and a second call must reuse them all.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")

from click.testing import CliRunner  # noqa: E402

from conftest import ROOT, SPECS  # noqa: E402
from nasdsl.cli import main  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

TABLE = """\
data = "{data}"
genotypes = [{genotypes}]
seeds = [0, 1]
folds = [0, 1]
k_folds = 3
defines = ["base=4", "depth=2", "classes=4"]
[train]
epochs = 2
steps_per_epoch = 8
batch = 2
patch = "32x32"
checkpoint_every = 1
"""


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def write_table(folder: Path, data: Path, genotypes: list[Path], extra: str = "",
                head: str = "") -> Path:
    path = folder / "trials.toml"
    path.write_text(head + TABLE.format(data=data,
                                        genotypes=", ".join(f'"{g}"' for g in genotypes))
                    + extra)
    return path


@pytest.fixture(scope="module")
def sequential(dataset, tmp_path_factory) -> Path:
    """The reference: 4 trials (1 genotype x 2 seeds x 2 folds), one after another."""
    folder = tmp_path_factory.mktemp("seq")
    table = write_table(folder, dataset, [SPECS / "unet.nas"])
    code, output = cli("trials", str(table), "--out", str(folder / "out"), "--workers", "0")
    assert code == 0, output
    return folder / "out"


def _rows(out: Path) -> dict[str, dict]:
    import csv

    with open(out / "trials.csv", newline="") as f:
        return {r["id"]: r for r in csv.DictReader(f)}


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "checkpoints" / "last.pt", weights_only=True)["model"]


def _jsonl(path: Path) -> list[dict]:
    out = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # the line being written
    return out


def test_sequential_table_gives_a_run_per_trial_and_a_summary(sequential):
    rows = _rows(sequential)
    assert sorted(rows) == ["unet-seed0-fold0", "unet-seed0-fold1", "unet-seed1-fold0",
                            "unet-seed1-fold1"]
    for tid, row in rows.items():
        run = sequential / "runs" / tid
        record = json.loads((run / "trial.json").read_text())
        assert row["state"] == "done" and record["steps"] == 16
        assert (run / "eval.csv").read_text().startswith("case,class,name,dice")
        manifest = json.loads((run / "manifest.json").read_text())
        assert manifest["request"]["config"]["seed"] == record["seed"]
        assert manifest["split"]["fold"] == record["fold"]
    # different seeds/folds really are different trainings
    assert len({r["weights_sha256"] for r in rows.values()}) == 4
    summary = json.loads((sequential / "summary.json").read_text())
    (group,) = summary["groups"]
    values = [t["val_dice"] for t in summary["trials"]]
    assert group["n"] == 4 and group["rank"] == 1
    assert group["mean"] == pytest.approx(sum(values) / 4)
    assert group["ci95_low"] < group["mean"] < group["ci95_high"]
    assert (sequential / "summary.png").read_bytes().startswith(b"\x89PNG")
    header = (sequential / "summary.csv").read_text().splitlines()[0]
    assert header == "rank,group,n,failed,mean,std,ci95_low,ci95_high,min,max"


def test_second_call_reuses_every_finished_trial(sequential):
    stamps = {p: p.stat().st_mtime_ns for p in (sequential / "runs").rglob("last.pt")}
    code, output = cli("trials", str(sequential.parent / "trials.toml"), "--out",
                       str(sequential))  # default path (Ray): nothing left to submit
    assert code == 0, output
    assert output.count(" reused ") == 4 and " running " not in output
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # nothing retrained


def test_changed_table_does_not_reuse_or_replace_a_run(sequential, tmp_path):
    import shutil

    out = tmp_path / "out"  # a copy: the reference stays untouched for the other tests
    shutil.copytree(sequential, out)
    table = sequential.parent / "trials.toml"
    changed = tmp_path / "changed.toml"
    changed.write_text(table.read_text().replace("epochs = 2", "epochs = 3"))
    before = (out / "runs" / "unet-seed0-fold0" / "trial.json").read_bytes()
    code, output = cli("trials", str(changed), "--out", str(out), "--workers", "0")
    assert code == 1 and "holds a run of another trial" in output
    assert (out / "runs" / "unet-seed0-fold0" / "trial.json").read_bytes() == before


def test_one_failing_trial_is_reported_and_the_others_finish(dataset, tmp_path):
    bad = tmp_path / "three_channels.nas"  # the dataset has one channel
    bad.write_text((SPECS / "unet.nas").read_text().replace("param in_channels = 1",
                                                            "param in_channels = 3"))
    table = write_table(tmp_path, dataset, [SPECS / "unet.nas", bad])
    table.write_text(table.read_text().replace("seeds = [0, 1]", "seeds = [0]")
                     .replace("folds = [0, 1]", "folds = [0]"))
    code, output = cli("trials", str(table), "--out", str(tmp_path / "out"), "--workers",
                       "0")
    assert code == 1, output
    rows = _rows(tmp_path / "out")
    assert rows["unet-seed0-fold0"]["state"] == "done"
    failed = rows["three_channels-seed0-fold0"]
    assert failed["state"] == "failed" and "in_channels" in failed["error"]
    assert "Traceback" not in output and "1 of 2 trials failed" in output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [g["failed"] for g in summary["groups"]] == [0, 1]


@pytest.mark.parametrize("head,extra,message", [
    ("bogus = 1\n", "", "unknown key `bogus`"),
    ("", "[settings.fast]\nlearning_rate = 1\n", "not an option of `nasdsl train`"),
    ("", "[settings.fast]\nseed = 1\n", "set by the trials table itself"),
    ("", "[settings.fast]\nepochs = 0\n", "epochs"),
    ("", "x = [\n", "a trials table is TOML"),
    ("", "[settings]\nfast = 1\n", "[settings.NAME] tables"),
    ('evaluate = ["train"]\n', "", "`evaluate` is a list of val and test"),
    ('evaluate = ["val"]\nrank_by = "test"\n', "", "must be one of `evaluate`"),
    ("", '[draw]\nspace = "x.nas"\ncount = 2\nmax_params = 0\n', "draw.max_params"),
])
def test_table_mistakes_are_usage_errors(dataset, tmp_path, head, extra, message):
    table = write_table(tmp_path, dataset, [SPECS / "unet.nas"], extra, head)
    code, output = cli("trials", str(table), "--out", str(tmp_path / "out"), "--workers",
                       "0")
    assert code == 2 and message in output and "Traceback" not in output, output


def test_test_cases_score_and_rank_trials(dataset, tmp_path):
    """`evaluate = ["val", "test"]` scores each trial on both (eval.csv, eval_test.csv,
    the nasdsl eval path); `rank_by = "test"` makes test Dice the summary's metric."""
    from nasdsl.infer.evaluate import evaluate

    table = write_table(tmp_path, dataset, [SPECS / "unet.nas"], head=(
        'evaluate = ["val", "test"]\nrank_by = "test"\n'))
    table.write_text(table.read_text().replace("seeds = [0, 1]", "seeds = [0]")
                     .replace("folds = [0, 1]", "folds = [0]")
                     .replace("epochs = 2", "epochs = 1"))
    out = tmp_path / "out"
    code, output = cli("trials", str(table), "--out", str(out), "--workers", "0")
    assert code == 0, output
    run = out / "runs" / "unet-seed0-fold0"
    record = json.loads((run / "trial.json").read_text())
    assert record["test_cases"] == 2 and record["val_cases"] >= 1
    scores, _ = evaluate(run, dataset, "test", progress=False)
    rows = [c.split(",")[0] for c in (run / "eval_test.csv").read_text().splitlines()[1:]]
    assert {s.case for s in scores} == set(rows) - {"mean"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["metric"].startswith("test_dice")
    assert summary["groups"][0]["mean"] == pytest.approx(record["test_dice"])
    assert record["test_dice"] != record["val_dice"]  # two different case sets
    assert "mean test Dice" in output and "test Dice" in output.split("done")[1]


def test_test_scoring_without_labelled_test_cases_is_refused(tmp_path):
    from nasdsl.data import make_synthetic_dataset

    data = tmp_path / "no_tests"
    make_synthetic_dataset(data, dims=2, cases=3, tests=0, size=32)
    table = write_table(tmp_path, data, [SPECS / "unet.nas"], head='evaluate = ["test"]\n')
    code, output = cli("trials", str(table), "--out", str(tmp_path / "out"), "--workers",
                       "0")
    assert code == 2 and "no labelled test cases" in output, output
    assert not (tmp_path / "out" / "runs").exists()  # refused before any training


def test_missing_genotype_file_is_a_usage_error(dataset, tmp_path):
    table = write_table(tmp_path, dataset, [tmp_path / "absent.nas"])
    code, output = cli("trials", str(table), "--out", str(tmp_path / "out"))
    assert code == 2 and "absent.nas" in output and "names no file" in output


def test_draw_writes_distinct_legal_genotypes_of_a_space(tmp_path, dataset):
    from nasdsl.api import compile_spec
    from nasdsl.trials.table import load_table

    table = tmp_path / "draw.toml"
    table.write_text(f'data = "{dataset}"\nseeds = [0, 1]\n'
                     f'[draw]\nspace = "{SPECS / "nas_unet.nas"}"\ncount = 3\nseed = 7\n')
    trials = load_table(table, tmp_path / "out")
    files = sorted({t.genotype for t in trials})
    assert len(trials) == 6 and len(files) == 3
    texts = {Path(f).read_text() for f in files}
    assert len(texts) == 3  # distinct draws
    for f in files:
        assert compile_spec(f).is_frozen  # each decides every choice of the space
    again = load_table(table, tmp_path / "out")  # deterministic for the seed
    assert [t.fingerprint for t in again] == [t.fingerprint for t in trials]


def test_draw_under_a_parameter_budget(tmp_path, dataset):
    """[draw] max_params: random genotypes no larger than a searched one (the fair
    comparison of search against random); an impossible budget is a usage error."""
    from nasdsl.api import UsageError, compile_spec
    from nasdsl.space import SearchSpace
    from nasdsl.train import GenotypeNet
    from nasdsl.trials.table import load_table

    space = SearchSpace.load(str(SPECS / "nas_unet.nas"), {"C": 4, "depth": 2})
    rnd = __import__("random").Random(0)
    costs = sorted(space.cost(a) for a in (space.table.sample(rnd) for _ in range(12))
                   if space.legal(a))
    budget = costs[len(costs) // 2]  # about half of the draws fit
    table = tmp_path / "draw.toml"
    table.write_text(f'data = "{dataset}"\ndefines = ["C=4", "depth=2"]\n'
                     f'[draw]\nspace = "{SPECS / "nas_unet.nas"}"\ncount = 3\nseed = 1\n'
                     f"max_params = {budget}\n")
    files = sorted({t.genotype for t in load_table(table, tmp_path / "out")})
    assert len(files) == 3
    for f in files:
        net = GenotypeNet(compile_spec(f, {"C": 4, "depth": 2}))
        assert sum(p.numel() for p in net.parameters()) <= budget
        assert f"at most {budget:,} parameters" in Path(f).read_text()
    table.write_text(table.read_text().replace(f"max_params = {budget}", "max_params = 1"))
    with pytest.raises(UsageError, match="max_params = 1, but the smallest genotype"):
        load_table(table, tmp_path / "out2")  # at once: no draw can fit


def test_without_ray_the_command_says_how_to_install_it(dataset, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    table = write_table(tmp_path, dataset, [SPECS / "unet.nas"])
    code, output = cli("trials", str(table), "--out", str(tmp_path / "out"), "--workers",
                       "2")
    assert code == 2 and "pip install 'nasdsl[ray]'" in output and "--workers 0" in output


def test_ray_with_a_killed_worker_matches_the_sequential_weights(sequential, dataset,
                                                                 tmp_path):
    """The sequential table's 4 trials plus 4 of a genotype that cannot train, on a local
    Ray (2 CPUs); one worker is SIGKILLed mid-trial. Ray re-runs its task, which resumes
    from the checkpoint: every good trial ends bitwise equal to the sequential path, the
    bad ones are reported (not retried) and the summary is complete."""
    pytest.importorskip("ray")
    bad = tmp_path / "three_channels.nas"  # the dataset has one channel
    bad.write_text((SPECS / "unet.nas").read_text().replace("param in_channels = 1",
                                                            "param in_channels = 3"))
    table = write_table(tmp_path, dataset, [SPECS / "unet.nas", bad])
    out = tmp_path / "ray"
    # a stale cluster address (as `ray start` leaves) must not divert the local Ray
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
           "RAY_ADDRESS": "127.0.0.1:9"}
    cmd = [sys.executable, "-m", "nasdsl.cli", "trials", str(table), "--out", str(out),
           "--workers", "2"]
    log = tmp_path / "trials.log"  # a file, not a pipe: nothing can block on a full pipe
    proc = subprocess.Popen(cmd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    victim, killed_pid = out / "runs" / "unet-seed0-fold0", None
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        steps = [r["step"] for r in _jsonl(victim / "metrics.jsonl") if "loss" in r]
        if steps and steps[-1] >= 3 and not (victim / "trial.json").exists():
            killed_pid = json.loads((victim / "attempts.json").read_text())[-1]["pid"]
            os.kill(killed_pid, signal.SIGKILL)
            break
        time.sleep(0.005)
    try:
        proc.wait(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = log.read_text()
    assert killed_pid is not None, "the trial finished before it could be killed:\n" + output
    assert proc.returncode == 1 and "4 of 8 trials failed" in output, output
    assert "Traceback" not in output, output
    record = json.loads((victim / "trial.json").read_text())
    assert record["attempts"] == 2 and record["resumed"], (record, output)
    assert any(r.get("event") == "resume" for r in _jsonl(victim / "metrics.jsonl"))
    assert "retrying (attempt 2" in output, output
    ray_rows, seq_rows = _rows(out), _rows(sequential)
    failed = {k: r for k, r in ray_rows.items() if k.startswith("three_channels")}
    assert len(failed) == 4, output
    for r in failed.values():  # the reason itself, tried once (an error is not retried)
        assert r["state"] == "failed" and r["attempts"] == "1", r
        assert "in_channels" in r["error"], r
        assert "Traceback" not in r["error"] and "Ray" not in r["error"], r
    ray_rows = {k: r for k, r in ray_rows.items() if k not in failed}
    assert sorted(ray_rows) == sorted(seq_rows)
    assert all(r["state"] == "done" for r in ray_rows.values())
    for tid in seq_rows:
        assert ray_rows[tid]["weights_sha256"] == seq_rows[tid]["weights_sha256"], (tid, output)
        ref, got = _weights(sequential / "runs" / tid), _weights(out / "runs" / tid)
        assert ref.keys() == got.keys()
        for k in ref:
            assert torch.equal(ref[k], got[k]), (tid, k)
        assert ray_rows[tid]["val_dice"] == seq_rows[tid]["val_dice"]


def test_groups_mean_ci_and_rank():
    from scipy import stats

    from nasdsl.trials.execute import Outcome
    from nasdsl.trials.summary import groups, table
    from nasdsl.trials.table import Trial

    def outcome(label, seed, dice, state="done"):
        t = Trial(f"{label}-{seed}", f"/g/{label}.nas", label, seed, 0, "default",
                  {"out": f"/o/{label}-{seed}"}, "f")
        return Outcome(t, state, None if state == "failed" else {"val_dice": dice})

    rows = groups([outcome("a", 0, 0.70), outcome("a", 1, 0.80), outcome("a", 2, 0.75),
                   outcome("b", 0, 0.90), outcome("b", 1, 0.0, "failed"),
                   outcome("c", 0, 0.75), outcome("c", 1, 0.75),
                   outcome("d", 0, 0.0, "failed")])
    by = {r["group"]: r for r in rows}
    assert [r["group"] for r in rows] == ["b", "a", "c", "d"]
    assert (by["b"]["rank"], by["a"]["rank"], by["c"]["rank"], by["d"]["rank"]) == \
        (1, 2, 2, None)  # a and c tie at 0.75 and share rank 2; d has no result
    assert by["b"]["n"] == 1 and by["b"]["failed"] == 1 and math.isnan(by["b"]["ci95_low"])
    lo, hi = stats.t.interval(0.95, 2, loc=0.75, scale=stats.sem([0.70, 0.80, 0.75]))
    assert by["a"]["ci95_low"] == pytest.approx(lo) and by["a"]["ci95_high"] == pytest.approx(hi)
    text = table({"groups": rows})
    assert text.splitlines()[1].split()[:4] == ["1", "b", "1", "0.9000"]


def test_edited_space_makes_a_finished_trial_run_again_and_fail_by_name(dataset, tmp_path):
    """A genotype's fingerprint covers its own text; the space it names is checked
    against the run's manifest, so editing the space never reuses a stale result."""
    (tmp_path / "genotypes").mkdir()
    space = tmp_path / "thrifty_nas.nas"
    space.write_text((SPECS / "thrifty_nas.nas").read_text())
    genotype = tmp_path / "genotypes" / "a.nas"
    genotype.write_text((SPECS / "genotypes" / "thrifty_nas_a.nas").read_text())
    table = tmp_path / "t.toml"
    table.write_text(f'data = "{dataset}"\ngenotypes = ["{genotype}"]\nk_folds = 3\n'
                     'defines = ["C=8", "levels=2", "classes=4"]\n[train]\nepochs = 1\n'
                     'steps_per_epoch = 2\nbatch = 2\npatch = "32x32"\n')
    out = tmp_path / "out"
    code, output = cli("trials", str(table), "--out", str(out), "--workers", "0")
    assert code == 0, output
    code, output = cli("trials", str(table), "--out", str(out), "--workers", "0")
    assert code == 0 and " reused " in output, output
    space.write_text(space.read_text() + "\n# edited\n")
    code, output = cli("trials", str(table), "--out", str(out), "--workers", "0")
    assert code == 1 and " reused " not in output, output
    assert "thrifty_nas.nas: changed since this run was trained" in output, output


def test_unreachable_cluster_is_a_usage_error(dataset, tmp_path):
    pytest.importorskip("ray")
    table = write_table(tmp_path, dataset, [SPECS / "unet.nas"])
    code, output = cli("trials", str(table), "--out", str(tmp_path / "out"), "--address",
                       "127.0.0.1:9")  # the discard port: nothing listens there
    assert code == 2 and "could not connect to the Ray cluster at 127.0.0.1:9" in output
    assert "Traceback" not in output and "--workers 0" in output
