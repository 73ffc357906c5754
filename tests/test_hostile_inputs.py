"""Hostile inputs end in a diagnostic within seconds, never a traceback (issue 7).

The corpus in tests/hostile/ holds specs that bomb magnitudes or work, or reach for files
outside the specs; each names its expected message on a `# expect:` line (and the command
line it needs on `# args:`). Special files are made per test: /dev/zero, a FIFO, a
directory, a link to /etc/passwd, a huge file. Everything runs `nasdsl check` as a
subprocess with a timeout: exit 1 (spec error) or 2 (usage error), never 3.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import ROOT, SPECS

CORPUS = Path(__file__).parent / "hostile"
LIMIT_S = 15.0  # generous on a loaded 2-core CI machine; these take ~1 s alone
WORK_LIMIT_S = 45.0  # work bombs stop after ~1-2 s of CPU; unbounded, they ran for minutes


def assert_diagnosed(proc, expect: str | None = None) -> None:
    out = proc.stdout + proc.stderr
    assert proc.returncode in (1, 2), out
    assert "Traceback" not in out and "internal error" not in out, out
    if expect is not None:
        assert expect in out, out


def _header(path: Path, key: str) -> str | None:
    for line in path.read_text().splitlines():
        if line.startswith(f"# {key}:"):
            return line.split(":", 1)[1].strip()
    return None


def _cases() -> list:
    return [pytest.param(path, id=path.stem) for path in sorted(CORPUS.glob("*.nas"))]


def _fifo(tmp: Path) -> Path:
    fifo = tmp / "pipe.nas"
    os.mkfifo(fifo)
    return fifo


def _huge(tmp: Path) -> Path:
    big = tmp / "huge.nas"
    with open(big, "wb") as f:  # sparse: 64 MiB of size, nothing written
        f.truncate(64 << 20)
    return big


def _link(name: str, target: str):
    def make(tmp: Path) -> Path:
        link = tmp / name
        link.symlink_to(target)
        return link
    return make


def _directory(tmp: Path) -> Path:
    d = tmp / "dir.nas"
    d.mkdir()
    return d


SPECIAL = {
    "dev_zero": (lambda tmp: Path("/dev/zero"), "not a .nas file"),
    "fifo": (_fifo, "is not a regular file"),
    "huge": (_huge, "is too large"),
    "passwd_link": (_link("passwd.nas", "/etc/passwd"), "not a .nas file"),
    "zero_link": (_link("zero.nas", "/dev/zero"), "not a .nas file"),
    "directory": (_directory, "is a directory"),
    "missing": (lambda tmp: tmp / "missing.nas", "no such file"),
}
AS_SPACE = ["fifo", "huge", "zero_link", "directory", "passwd_link"]


def _grouped(path: Path) -> bool:
    """Plain spec errors share one run (a usage error or a work bomb gets its own)."""
    return not path.name.startswith("work_") and _header(path, "args") is None


def _commands(tmp: Path) -> dict[str, tuple[list[str], Path, float]]:
    """Every run of the module by id: (arguments, working directory, timeout)."""
    corpus = sorted(CORPUS.glob("*.nas"))
    runs = {"corpus": (["check", *[p.name for p in corpus if _grouped(p)]], CORPUS,
                       LIMIT_S)}
    for path in corpus:
        if not _grouped(path):
            args = shlex.split(_header(path, "args") or "")
            timeout = WORK_LIMIT_S if path.name.startswith("work_") else LIMIT_S
            runs[f"corpus/{path.stem}"] = (["check", *args, path.name], CORPUS, timeout)
    if not hasattr(os, "mkfifo"):
        return runs
    for kind, (make, _) in SPECIAL.items():
        where = tmp / kind
        where.mkdir()
        runs[f"special/{kind}"] = (["check", str(make(where))], ROOT, LIMIT_S)
    spaces = tmp / "spaces"
    spaces.mkdir()
    for kind in AS_SPACE:
        target = SPECIAL[kind][0](spaces)
        (spaces / f"g_{kind}.nas").write_text(f'genotype G of "{target.name}" {{\n}}\n')
    runs["spaces"] = (["check", *[f"g_{kind}.nas" for kind in AS_SPACE]], spaces, LIMIT_S)
    return runs


def _lines_about(proc, name: str) -> str:
    """The diagnostics of one file of a grouped run."""
    return "\n".join(line for line in proc.stderr.splitlines()
                     if line.startswith(f"{name}:"))


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """All runs at once, a few in parallel: each is mostly interpreter start-up."""
    runs = _commands(tmp_path_factory.mktemp("hostile"))
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {key: pool.submit(_run, args, cwd, timeout)
                   for key, (args, cwd, timeout) in runs.items()}
        return {key: f.result() for key, f in futures.items()}


def _run(args: list[str], cwd: Path, timeout: float):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    try:
        return subprocess.run([sys.executable, "-m", "nasdsl.cli", *args], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None


def _result(results, key: str, args_hint: str):
    proc = results[key]
    if proc is None:
        pytest.fail(f"{key}: nasdsl {args_hint} did not finish in time")
    return proc


@pytest.mark.parametrize("path", _cases())
def test_corpus_ends_in_a_diagnostic(results, path: Path):
    expect = _header(path, "expect")
    assert expect, f"{path.name} has no `# expect:` line"
    if _grouped(path):
        proc = _result(results, "corpus", "the corpus")
        assert_diagnosed(proc)
        assert expect in _lines_about(proc, path.name), proc.stderr
    else:
        proc = _result(results, f"corpus/{path.stem}", path.name)
        assert_diagnosed(proc, expect)
    assert "root:" not in proc.stderr  # nothing of /etc/passwd is ever quoted


def test_corpus_covers_the_kinds():
    names = {p.stem for p in CORPUS.glob("*.nas")}
    for kind in ("width_bomb", "override_bomb", "passwd_space", "environ_space",
                 "zero_space", "dir_space", "work_loops", "work_listcomp", "work_recursion"):
        assert kind in names


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX special files")
@pytest.mark.parametrize("kind", sorted(SPECIAL))
def test_special_files_are_refused_by_their_path(results, kind):
    proc = _result(results, f"special/{kind}", kind)
    assert_diagnosed(proc, SPECIAL[kind][1])
    assert proc.returncode == 2 and "root:" not in proc.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX special files")
@pytest.mark.parametrize("kind", AS_SPACE)
def test_special_files_as_a_genotype_space(results, kind):
    proc = _result(results, "spaces", kind)
    assert_diagnosed(proc)
    mine = _lines_about(proc, f"g_{kind}.nas")
    assert "error[E0401]" in mine and SPECIAL[kind][1] in mine, proc.stderr
    assert "root:" not in proc.stderr


def test_compile_refuses_to_write_over_its_inputs(tmp_path):
    from click.testing import CliRunner

    from nasdsl.cli import main

    spec = tmp_path / "same.nas"
    spec.write_bytes((SPECS / "unet.nas").read_bytes())
    before = spec.read_bytes()
    for args in (["compile", str(spec), "-o", str(spec)],
                 ["show", str(spec), "-o", str(spec)],
                 ["compile", str(SPECS / "genotypes" / "nas_unet_v2.nas"), "-o",
                  str(SPECS / "nas_unet.nas")]):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 2 and "refusing to write over the input spec" in r.output
    assert spec.read_bytes() == before
    r = CliRunner().invoke(main, ["compile", str(spec), "-o", "/dev/null"])
    assert r.exit_code == 2 and "is not a regular file" in r.output
    r = CliRunner().invoke(main, ["compile", str(spec), "-o", str(tmp_path)])
    assert r.exit_code == 2 and "directory" in r.output


def test_fmt_rewrites_through_a_link_and_keeps_the_mode(tmp_path):
    from click.testing import CliRunner

    from nasdsl.cli import main

    real = tmp_path / "real.nas"
    real.write_text("space S {\n  param dims=2\n}\n")
    real.chmod(0o640)
    link = tmp_path / "link.nas"
    link.symlink_to(real.name)
    r = CliRunner().invoke(main, ["fmt", str(link)])
    assert r.exit_code == 0, r.output
    assert link.is_symlink() and "param dims = 2" in real.read_text()
    assert real.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.nas", "real.nas"]
