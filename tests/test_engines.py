"""Search engines end to end on tiny spaces with the built-in synthetic data (CPU)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from nasdsl import data  # noqa: E402 - an import error here must fail, not skip
from nasdsl.api import compile_spec  # noqa: E402
from nasdsl.engines.loop import SearchOptions, load_engine_from_run, search  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TINY_2D = {"nas_unet": {"C": 8, "depth": 2, "patch": 32, "classes": 4},
           "thrifty_nas": {"C": 8, "levels": 2, "patch": 32, "classes": 4}}
TINY_3D = {"ronasmis": {"base": 2, "classes": 4}}
FAST = {"epochs": 1, "steps_per_epoch": 2, "batch_size": 2, "warmup_epochs": 0,
        "arch_every": 1, "children_per_episode": 2, "controller_steps": 2,
        "derive_samples": 3, "derive_batches": 1, "child_epochs": 1, "samples": 3,
        "rerank": 2}


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)   # tiny convs: threads only contend on a shared CPU
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def synth(tmp_path_factory) -> dict[int, str]:
    root = tmp_path_factory.mktemp("synth")
    return {dims: str(Path(data.make_synthetic_dataset(root / f"d{dims}", dims=dims, cases=4,
                                                        tests=0, size=32)).parent)
            for dims in (2, 3)}


def settings_for(engine: str) -> dict:
    from nasdsl.enginespec import engine_settings

    known = engine_settings(engine)
    return {k: v for k, v in FAST.items() if k in known}


def run_search(engine, space, overrides, data_dir, out, **extra):
    opts = SearchOptions(str(ROOT / "specs" / f"{space}.nas"), data_dir, str(out), engine,
                         overrides, {**settings_for(engine), **extra}, progress=False)
    return search(opts)


def moved(run_dir: Path) -> float:
    """The smallest, over alpha (op decisions), beta (cell nodes' input decisions) and an
    ENAS controller, of the largest change since initialisation: every kind of
    architecture parameter the engine has must move, not only one."""
    _, before, _, _ = load_engine_from_run(run_dir, restore=False)
    _, after, _, _ = load_engine_from_run(run_dir)
    a, b = before.state_dict(), after.state_dict()
    if "controller" in a:
        return max(float((b["controller"][k].float() - a["controller"][k].float()).abs().max())
                   for k in a["controller"])
    change: dict[str, float] = {}
    for did in after.arch.ids:
        kind = "beta" if after.space.point(did).kind == "inputs" else "alpha"
        d = float((after.arch[did].detach() - before.arch[did].detach()).abs().max())
        change[kind] = max(change.get(kind, 0.0), d)
    want = {"alpha"} | ({"beta"} if "inputs" in after.arch_kinds
                        and after.space.choose_nodes() else set())
    assert set(change) == want, f"architecture parameters {sorted(change)}, want {sorted(want)}"
    return min(change.values())


CASES = [(e, s, 2) for s in TINY_2D for e in ("darts", "pc_darts", "proxyless", "enas",
                                              "random")]
CASES += [("enas", "ronasmis", 3), ("random", "ronasmis", 3)]


@pytest.mark.parametrize("engine,space,dims", CASES)
def test_engine_searches_and_writes_a_genotype(engine, space, dims, synth, tmp_path):
    overrides = {**TINY_2D, **TINY_3D}[space]
    out = tmp_path / "run"
    # 3D: one step per phase (RONASMIS children take patches up to 160x160x48)
    extra = {"steps_per_epoch": 1} if dims == 3 else {}
    if engine == "enas" and dims == 3:
        extra.update(first_child_max=False, children_per_episode=2)
    result = run_search(engine, space, overrides, synth[dims], out, **extra)
    genotype = out / "genotype.nas"
    compiled = compile_spec(str(genotype))
    assert compiled.is_frozen and compiled.kind == "genotype"
    assert compiled.genotype_hash() == result["genotype_hash"]
    from nasdsl.backends.standalone import compile_to

    compile_to(compiled, "torch", tmp_path / "model.py", verify=True)
    assert (out / "supernet.pt").exists() and (out / "metrics.jsonl").exists()
    manifest = __import__("json").loads((out / "manifest.json").read_text())
    assert manifest["final"]["genotype_hash"] == result["genotype_hash"]
    assert manifest["decision_table"] and manifest["split"]["val"]
    if engine != "random":
        assert moved(out) > 1e-6, "the architecture parameters did not move"
    if engine in ("darts", "proxyless", "enas", "random"):
        weights = torch.load(out / "weights.pt", weights_only=True)
        standalone_module(tmp_path / "model.py").load_state_dict(weights, strict=True)


def standalone_module(path: Path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"emitted_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Model()


def test_proxyless_budget_steers_and_bounds(synth, tmp_path):
    from nasdsl.api import summarize

    space_text = (ROOT / "specs" / "nas_unet.nas").read_text()
    base = compile_spec(str(ROOT / "specs" / "nas_unet.nas"), TINY_2D["nas_unet"])
    bounds = summarize(base).params
    budget = int(bounds.lo + 0.25 * (bounds.hi - bounds.lo))
    spec = tmp_path / "budgeted.nas"
    spec.write_text(space_text.rstrip()[:-1] + f"  constraint params <= {budget}\n}}\n")
    out = tmp_path / "run"
    opts = SearchOptions(str(spec), synth[2], str(out), "proxyless", TINY_2D["nas_unet"],
                         {**settings_for("proxyless"), "cost_weight": 1.0}, progress=False)
    result = search(opts)
    assert result["params"] <= budget < bounds.hi
    compile_spec(str(out / "genotype.nas"))   # the constraint holds for the genotype


def test_derive_again_and_refuse_pc_darts_export(synth, tmp_path):
    from click.testing import CliRunner

    from nasdsl.cli import main

    runs = {}
    for engine in ("darts", "pc_darts"):
        runs[engine] = tmp_path / engine
        run_search(engine, "thrifty_nas", TINY_2D["thrifty_nas"], synth[2], runs[engine])
    base = compile_spec(str(runs["darts"] / "genotype.nas"))
    from nasdsl.analysis.resources import param_bounds

    tight = param_bounds(base.graph).lo - 1
    res = CliRunner().invoke(main, ["derive", str(runs["darts"]), "--budget", str(tight),
                                    "-o", "tight.nas", "--export-weights"])
    if res.exit_code == 0:
        tighter = compile_spec(str(runs["darts"] / "tight.nas"))
        assert param_bounds(tighter.graph).lo <= tight
    else:
        assert "no architecture" in res.output and res.exit_code == 2
    res = CliRunner().invoke(main, ["derive", str(runs["pc_darts"]), "--export-weights"])
    assert res.exit_code == 1 and "C/K" in res.output
    # --top-k cannot act on `keep 2` cell nodes: a usage error saying why, not silence
    res = CliRunner().invoke(main, ["derive", str(runs["darts"]), "--top-k", "3",
                                    "-o", "k3.nas"])
    assert res.exit_code == 2 and "keep 2" in res.output, res.output
    assert not (runs["darts"] / "k3.nas").exists()


MACRO = Path(__file__).resolve().parent / "specs" / "proxyless_macro.nas"


def test_proxyless_searches_macro_layer_choices_within_budget(synth, tmp_path):
    spec = MACRO
    out = tmp_path / "run"
    opts = SearchOptions(str(spec), synth[2], str(out), "proxyless", {},
                         {**settings_for("proxyless"), "cost_weight": 1.0}, progress=False)
    result = search(opts)
    assert result["params"] <= 700
    assert set(result["assignment"]) == {"blk[0]", "blk[1]", "blk[2]"}
    assert moved(out) > 1e-6
    compile_spec(str(out / "genotype.nas"))
