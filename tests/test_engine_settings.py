"""Engines' settings (#14 findings 1 and 7, #16, #18.1/#18.3): a `search` block configures
the engine it names, every engine starts from its own published defaults, a setting that
cannot take effect is a check-time error, and `check --engine` refuses what the engine
cannot build or search."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from nasdsl.api import compile_spec
from nasdsl.cli import main
from nasdsl.diagnostics import NasError
from nasdsl.enginespec import DEFAULT, ENGINES, SPEC, resolve, values

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"

# The published values, copied by hand from the sources docs/ENGINES.md cites (not from
# the code under test): NasUnet configs/nas_unet/nas_unet_promise12.yml (SGD given lr and
# weight_decay only, so momentum is torch's 0; Adam betas torch's default), PC-DARTS
# train_search.py, proxylessnas search/imagenet_arch_search.py, RONASMIS / ENAS-pytorch.
REFERENCE = {
    "darts": {"epochs": 300, "weight_lr": 0.025, "weight_momentum": 0.0,
              "weight_decay": 3e-4, "arch_lr": 3e-4, "arch_beta1": 0.9,
              "arch_weight_decay": 5e-3, "warmup_epochs": 10, "patience": 40,
              "grad_clip": 5.0, "val_fraction": 0.5},
    "pc_darts": {"epochs": 50, "weight_lr": 0.1, "weight_momentum": 0.9,
                 "weight_decay": 3e-4, "arch_lr": 6e-4, "arch_beta1": 0.5,
                 "arch_weight_decay": 1e-3, "warmup_epochs": 15, "k": 4, "grad_clip": 5.0,
                 "val_fraction": 0.5},
    "proxyless": {"epochs": 160, "warmup_epochs": 40, "weight_lr": 0.025,
                  "weight_momentum": 0.9, "weight_decay": 4e-5, "arch_lr": 1e-3,
                  "arch_beta1": 0.0, "arch_weight_decay": 0.0, "arch_every": 5,
                  "mode": "full_v2", "cost_weight": 0.1},
    "enas": {"epochs": 150, "children_per_episode": 20, "child_epochs": 3,
             "controller_lr": 1e-3, "entropy_weight": 1e-4, "weight_lr": 1e-3,
             "weight_decay": 1e-4, "lstm_size": 100, "baseline_decay": 0.95,
             "temperature": 5.0, "tanh_constant": 2.5},
}


def _spec(tmp_path: Path, *blocks: str, extra: str = "") -> str:
    path = tmp_path / "s.nas"
    body = "".join(f"  search {{\n{b}  }}\n" for b in blocks)
    path.write_text("space S {\n  param dims = 2\n  param C = 8\n"
                    "  input x(channels=1, size=32)\n"
                    "  opset ops = [none, skip_connect, sep_conv_3x3]\n"
                    "  cell Cell(s0) {\n    p0 = conv(s0, C, 1)\n"
                    "    nodes n[2] keep 1 {\n      from p0 down: ops\n"
                    "      from nodes: ops\n    }\n    return concat(n)\n  }\n"
                    f"  output y = conv(Cell(x), 2, 1)\n{extra}{body}}}\n")
    return str(path)


def _errors(path: str, **kw) -> str:
    with pytest.raises(NasError) as err:
        compile_spec(path, **kw)
    return "\n".join(d.render() for d in err.value.diagnostics)


# ---- finding 1: no leak across engines ---------------------------------------------------
@pytest.mark.parametrize("engine", sorted(REFERENCE))
def test_each_engine_starts_from_its_published_defaults(engine):
    got = values(resolve(engine, {}))
    assert {k: got[k] for k in REFERENCE[engine]} == REFERENCE[engine]


def test_every_default_names_its_source():
    for spec in ENGINES.values():
        for s in spec.settings:
            assert s.source.strip(), f"{spec.name}.{s.name} has no source"


@pytest.mark.parametrize("engine", ["pc_darts", "proxyless", "enas", "random"])
def test_darts_block_does_not_configure_other_engines(engine):
    """specs/nas_unet.nas's `search { engine = darts ... warmup_epochs = 10 }` left PC-DARTS
    with DARTS's rates and no architecture step in a 3-epoch run; ENAS/random with an Adam
    lr of 0.025 (#14 finding 1)."""
    compiled = compile_spec(str(SPECS / "nas_unet.nas"))
    assert compiled.engine == "darts" and "weight_lr" in compiled.search["darts"]
    r = resolve(engine, compiled.search.get(engine), {"epochs": 3})
    assert all(x.origin != SPEC for x in r.values())
    assert values(r)["weight_lr"] == values(resolve(engine, {}))["weight_lr"]
    if engine == "pc_darts":
        assert (r["weight_lr"].value, r["arch_lr"].value, r["arch_weight_decay"].value) \
            == (0.1, 6e-4, 1e-3)
    if engine in ("pc_darts", "proxyless"):
        assert r["warmup_epochs"].value < 3     # warm-up scaled: arch steps do run
    if engine in ("enas", "random"):
        assert r["weight_lr"].value == 1e-3


def test_engines_md_lists_every_setting_as_the_catalog_declares_it():
    from nasdsl.enginespec.doc import tables

    assert tables() in (ROOT / "docs" / "ENGINES.md").read_text(encoding="utf-8"), \
        "docs/ENGINES.md's settings tables are stale: paste `python -m nasdsl.enginespec.doc`"


def test_warmup_default_scales_with_epochs():
    r = resolve("pc_darts", {}, {"epochs": 10})
    assert r["warmup_epochs"].value == 3 and r["warmup_epochs"].origin == DEFAULT
    assert "15 of 50 epochs" in r["warmup_epochs"].note
    assert resolve("pc_darts", {"warmup_epochs": 0}, {"epochs": 10})["warmup_epochs"].value == 0


def test_one_block_per_engine(tmp_path):
    path = _spec(tmp_path, "    engine = pc_darts\n    k = 2\n    epochs = 7\n",
                 "    engine = proxyless\n    epochs = 9\n")
    c = compile_spec(path)
    assert c.engine == "pc_darts" and set(c.search) == {"pc_darts", "proxyless"}
    assert values(resolve("proxyless", c.search["proxyless"]))["epochs"] == 9
    assert values(resolve("pc_darts", c.search["pc_darts"]))["epochs"] == 7
    assert values(resolve("darts", c.search.get("darts")))["epochs"] == 300
    text = _errors(_spec(tmp_path, "    engine = darts\n", "    engine = darts\n"))
    assert "E0427" in text and "a second `search` block for `darts`" in text
    text = _errors(_spec(tmp_path, "    epochs = 3\n"))
    assert "E0426" in text and "names none" in text


# ---- finding 7: settings that do nothing are errors ---------------------------------------
@pytest.mark.parametrize("block,expect", [
    ("    engine = darts\n    epochs = 5\n    warmup_epochs = 5\n",
     "no architecture step would run: warmup_epochs = 5 (spec) covers all epochs = 5"),
    ("    engine = darts\n    epochs = 10\n    patience = 20\n", "`patience` has no effect"),
    ("    engine = enas\n    weight_momentum = 0.9\n",
     "`weight_momentum` has no effect for `enas`: enas trains the shared weights with Adam"),
    ("    engine = random\n    arch_lr = 0.1\n", "no architecture parameters"),
    ("    engine = enas\n    retrain = true\n", "`retrain` removed"),
    ("    engine = darts\n    order = 2\n", "`order` removed"),
    ("    engine = pc_darts\n    k = 2\n    arch_start_epoch = 3\n", "renamed `warmup_epochs`"),
    ("    engine = proxyless\n    cost_weight = 0.5\n",
     "`cost_weight` has no effect: the expected-cost term is relative to the spec's budget"),
])
def test_idle_setting_is_a_check_error_at_its_line(tmp_path, block, expect):
    text = _errors(_spec(tmp_path, block))
    assert expect in text
    assert re.search(r"s\.nas:\d+:\d+: error\[E04\d\d\]", text)   # at the spec


def test_cost_with_a_budget_is_fine(tmp_path):
    compile_spec(_spec(tmp_path, "    engine = proxyless\n    cost_weight = 0.5\n",
                       extra="  constraint params <= 100000\n"))


def test_idle_settings_through_set_are_refused_by_search(tmp_path):
    from nasdsl.engines.loop import SearchError, pick_engine
    from nasdsl.space import SearchSpace

    space = SearchSpace.load(_spec(tmp_path, "    engine = pc_darts\n    k = 2\n"
                                   "    warmup_epochs = 2\n"), {})
    with pytest.raises(NasError) as err:
        pick_engine(space, None, {"epochs": 2})
    assert "warmup_epochs = 2 (spec) covers all epochs = 2 (--set)" in err.value.diagnostics[0].message
    with pytest.raises(SearchError, match="has no effect for `enas`"):
        pick_engine(space, "enas", {"weight_momentum": 0.5})
    name, r = pick_engine(space, None, {"epochs": 3})
    assert name == "pc_darts" and r["epochs"].origin == "--set" and r["k"].origin == SPEC


def test_val_fraction_split_is_exact():
    """0.4 was rounded to folds of 1/round(1/0.4) = a half (#14 finding 7)."""
    from types import SimpleNamespace

    from nasdsl.engines.feed import fraction_split

    index = SimpleNamespace(cases=[SimpleNamespace(id=f"c{i:02d}") for i in range(20)],
                            root="/d")
    for f, n in ((0.4, 8), (0.5, 10), (0.25, 5), (0.05, 1), (0.95, 19)):
        split = fraction_split(index, 0, f)
        assert len(split["val"]) == n and len(split["train"]) == 20 - n
        assert not set(split["val"]) & set(split["train"])


# ---- check --engine ------------------------------------------------------------------
def _check(*args: str):
    return CliRunner().invoke(main, ["check", "-q", *args])


def test_check_engine_refuses_what_pc_darts_cannot_build():
    """thrifty at C=4 with K=4: FactorizedReduce (skip_connect on a down edge) on C/K = 1
    channel made a conv with 0 output channels in `nasdsl run` (#18.1)."""
    res = _check(str(SPECS / "thrifty_nas.nas"), "-D", "C=4", "--engine", "pc_darts")
    assert res.exit_code == 1
    assert "error[E0421]" in res.output and "4/4 = 1 channel(s)" in res.output
    assert "`skip_connect` cannot" in res.output and "even channel count" in res.output
    assert "ok" not in res.output.split("\n")[-2]


@pytest.mark.parametrize("c,buildable", [(4, False), (8, True), (12, False), (6, False)])
def test_check_engine_agrees_with_building_the_pc_darts_supernet(c, buildable):
    pytest.importorskip("torch")
    from nasdsl.engines.gradient import PcDartsEngine
    from nasdsl.space import SearchSpace
    from nasdsl.train.step import Precision

    import torch

    defines = {"C": c, "levels": 2, "patch": 32}
    res = _check(str(SPECS / "thrifty_nas.nas"), *[a for k, v in defines.items()
                                                   for a in ("-D", f"{k}={v}")],
                 "--engine", "pc_darts")
    assert (res.exit_code == 0) == buildable, res.output
    if not buildable:
        return
    space = SearchSpace.load(str(SPECS / "thrifty_nas.nas"), defines)
    engine = PcDartsEngine(space, values(resolve("pc_darts", space.compiled.search["pc_darts"])),
                           Precision.for_device(torch.device("cpu")), 2)
    out = engine.net(torch.zeros(1, 1, 32, 32))
    assert out.shape[1] == 2


def test_search_checks_the_build_with_its_command_line_settings():
    """The spec's k = 4 cannot build thrifty at C=4; `--set k=2` can, and the search (and
    `nasdsl run`'s quick plan, which passes k=2) is not refused by the spec's value."""
    torch = pytest.importorskip("torch")
    from nasdsl.engines.loop import pick_engine
    from nasdsl.space import SearchSpace
    from nasdsl.pipeline.plan import quick_plan
    from nasdsl.train.step import Precision
    from nasdsl.engines.gradient import PcDartsEngine

    defines = {"C": 4, "levels": 2, "patch": 32}
    space = SearchSpace.load(str(SPECS / "thrifty_nas.nas"), defines)
    with pytest.raises(NasError, match="4/4 = 1 channel"):
        pick_engine(space, None, {"epochs": 3, "warmup_epochs": 1})
    assert quick_plan("s", "o", None, None, [], 0, None).search.settings["k"] == 2
    name, r = pick_engine(space, None, {"epochs": 3, "warmup_epochs": 1, "k": 2})
    engine = PcDartsEngine(space, values(r), Precision.for_device(torch.device("cpu")), 2)
    assert engine.net(torch.zeros(1, 1, 32, 32)).shape[1] == 2


def test_check_engine_on_a_genotype_says_nothing_to_search():
    for engine in ("darts", "enas"):
        res = _check(str(SPECS / "genotypes" / "nas_unet_v2.nas"), "--engine", engine)
        assert res.exit_code == 1
        assert f"engine {engine}: nothing to search" in res.output
        assert "a genotype decides every choice" in res.output
        assert "searchable" not in res.output and "structural" not in res.output
    search = CliRunner().invoke(main, ["search", str(SPECS / "genotypes" / "nas_unet_v2.nas"),
                                       "--engine", "darts", "--data", str(SPECS), "--out",
                                       "/nonexistent/run", "--no-progress"])
    assert search.exit_code == 1 and "a genotype decides every choice" in search.stderr


def test_check_engine_lists_every_problem_and_the_resolved_settings(tmp_path):
    res = _check(str(SPECS / "ronasmis.nas"), "--engine", "darts")
    assert res.exit_code == 1
    blocked = res.output.count("error[E0429]")
    assert blocked >= 2 and f"({blocked} problems)" in res.output
    ok = _check(str(SPECS / "nas_unet.nas"), "--engine", "pc_darts")
    assert ok.exit_code == 0
    assert "weight_lr" in ok.output and "0.1" in ok.output and "engine default" in ok.output


def test_unknown_engine_is_a_usage_error_on_stderr():
    res = CliRunner().invoke(main, ["check", "-q", str(SPECS / "unet.nas"), "--engine",
                                    "dartz"])
    assert res.exit_code == 2
    assert "dartz: unknown engine" in res.stderr and "dartz" not in res.stdout


def test_cannot_search_exits_alike_in_check_and_search(tmp_path):
    check = _check(str(SPECS / "ronasmis.nas"), "--engine", "darts")
    search = CliRunner().invoke(main, ["search", str(SPECS / "ronasmis.nas"), "--engine",
                                       "darts", "--data", str(tmp_path), "--out",
                                       str(tmp_path / "run"), "--no-progress"])
    assert check.exit_code == search.exit_code == 1
    assert "cannot search `patch_hw`" in search.stderr


# ---- layering ----------------------------------------------------------------------------
def test_front_end_does_not_import_the_engines_or_torch():
    code = ("import sys\nfrom click.testing import CliRunner\nfrom nasdsl.cli import main\n"
            f"r = CliRunner().invoke(main, ['check', '-q', {str(SPECS / 'nas_unet.nas')!r}, "
            "'--engine', 'pc_darts'])\nassert r.exit_code == 0, r.output\n"
            "bad = sorted(m for m in sys.modules if m in ('torch', 'nasdsl.engines') or "
            "m.startswith('nasdsl.engines.'))\nprint(bad)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
    import ast

    tree = ast.parse((ROOT / "nasdsl/sema/elaborate.py").read_text())
    mods = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not any(m and (m == "nasdsl.engines" or m.startswith("nasdsl.engines."))
                   for m in mods)


# ---- the run prints and records its settings ----------------------------------------------
def test_search_prints_and_records_each_setting_with_its_origin(tmp_path):
    from nasdsl import data
    root = Path(data.make_synthetic_dataset(tmp_path / "d", dims=2, cases=4, tests=0,
                                            size=32)).parent
    out = tmp_path / "run"
    res = CliRunner().invoke(main, [
        "search", str(SPECS / "nas_unet.nas"), "--engine", "pc_darts", "--data", str(root),
        "--out", str(out), "-D", "C=4", "-D", "depth=1", "-D", "M=2", "-D", "patch=32", "-D", "classes=4",
        "--set", "epochs=2", "--set", "steps_per_epoch=1", "--set", "k=2", "--no-progress"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0] == "pc_darts settings:"
    line = {ln.split("=")[0].strip(): ln for ln in lines[1:17]}
    assert "(--set)" in line["epochs"] and "(engine default: PC-DARTS" in line["weight_lr"]
    assert "0.1" in line["weight_lr"] and "scaled to 2" in line["warmup_epochs"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["weight_lr"] == 0.1 and manifest["settings"]["arch_lr"] == 6e-4
    assert manifest["setting_origins"]["k"] == "--set"
    assert manifest["setting_origins"]["arch_lr"] == DEFAULT
    assert manifest["settings"]["warmup_epochs"] == 1     # one of two epochs has arch steps
    events = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert any("arch_loss" in e for e in events)
