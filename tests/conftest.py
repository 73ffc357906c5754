from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


def pytest_collection_modifyitems(config, items):
    """GPU tests are skipped when CUDA is absent (CI machines have none)."""
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    if has_cuda:
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def shipped_specs() -> list[Path]:
    return sorted(SPECS.glob("*.nas")) + sorted((SPECS / "genotypes").glob("*.nas"))


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite tests/golden/ from the current emitter")


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module: on a shared 2-core machine 2 threads spin-wait
    100x slower, and one thread keeps CPU results bitwise reproducible."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """A small 2D synthetic dataset (6 training cases, 2 test cases, 40x40), one per test
    module: the training and trials tests train on it."""
    from nasdsl.data import make_synthetic_dataset

    root = tmp_path_factory.mktemp("synth2d")
    make_synthetic_dataset(root, dims=2, cases=6, tests=2, size=40)
    return root


@pytest.fixture
def fresh_cache(monkeypatch):
    """An empty compile cache: what a new process starts with."""
    import nasdsl.artifact as A

    monkeypatch.setattr(A, "_COMPILED", A.Lru(A.COMPILES_KEPT))


@pytest.fixture
def compiles(monkeypatch, fresh_cache) -> list[str]:
    """The path of every spec compiled in this test (compile_spec's one entry point),
    counted from an empty compile cache."""
    import nasdsl.compiler as C

    seen: list[str] = []
    real = C._compile

    def counting(path, *args, **kwargs):
        seen.append(path)
        return real(path, *args, **kwargs)
    monkeypatch.setattr(C, "_compile", counting)
    return seen
