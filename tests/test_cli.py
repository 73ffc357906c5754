"""The command line: exit codes, help, summaries, fmt, and an instant front end."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from conftest import ROOT, SPECS, shipped_specs
from nasdsl import __version__
from nasdsl.cli import main


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_version_and_help_on_every_command():
    assert __version__ in run("--version").output
    for cmd in ([], ["check"], ["fmt"], ["compile"]):
        r = run(*cmd, "--help")
        assert r.exit_code == 0 and "Usage" in r.output


def test_check_every_shipped_spec_exits_0():
    r = run("check", *map(str, shipped_specs()))
    assert r.exit_code == 0, r.output
    assert "decision points" in r.output and "exact" in r.output


def test_check_prints_the_unet_count():
    r = run("check", str(SPECS / "unet.nas"))
    assert r.exit_code == 0 and "7,759,521" in r.output


def test_spec_errors_exit_1_and_usage_errors_exit_2(tmp_path):
    bad = tmp_path / "bad.nas"
    bad.write_text("space S {\n  param dims = 2\n  y = nope(x)\n}\n")
    r = run("check", str(bad))
    assert r.exit_code == 1
    assert f"{bad}:3:7: error[E0200]: unknown name `nope`" in r.output
    assert run("check", str(tmp_path / "missing.nas")).exit_code == 2
    assert run("check", "-D", "oops", str(bad)).exit_code == 2
    assert run("frobnicate").exit_code == 2


def test_all_errors_of_several_files_in_one_run(tmp_path):
    a = tmp_path / "a.nas"
    a.write_text("space A {\n  param dims = 2\n  y = nope(x)\n  z = nada(x)\n}\n")
    b = tmp_path / "b.nas"
    b.write_text("space B {\n  param dims = 5\n}\n")
    r = run("check", str(a), str(b))
    assert r.exit_code == 1
    assert "nope" in r.output and "nada" in r.output and "`dims` must be 2 or 3" in r.output


def test_json_output_lists_decisions():
    import json

    r = run("check", "--json", str(SPECS / "nas_unet.nas"))
    data = json.loads(r.output)
    assert data["kind"] == "space" and data["log10_size"] > 0
    assert any(p["id"] == "DownSC.n[0]" for p in data["decision_points"])


def test_fmt_check_passes_on_shipped_specs():
    r = run("fmt", "--check", *map(str, shipped_specs()))
    assert r.exit_code == 0, r.output


def test_fmt_rewrites_and_is_idempotent(tmp_path):
    f = tmp_path / "s.nas"
    f.write_text("space S{param dims=2 # two\ninput x(channels=1)\noutput y=conv(x,2,1)}\n")
    assert run("fmt", "--check", str(f)).exit_code == 1
    assert run("fmt", str(f)).exit_code == 0
    once = f.read_text()
    assert "# two" in once
    assert run("fmt", "--check", str(f)).exit_code == 0
    assert run("check", str(f)).exit_code == 0


def test_front_end_does_not_import_torch():
    code = ("import sys, time; t = time.perf_counter(); from nasdsl.cli import main\n"
            "import nasdsl.api, nasdsl.report\n"
            "from nasdsl.api import compile_spec, summarize\n"
            f"for p in {[str(p) for p in shipped_specs()]!r}:\n"
            "    summarize(compile_spec(p))\n"
            "print(time.perf_counter() - t, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout.split()
    assert out[1] == "False"  # timings live in bench/frontend_speed.py, not here


def test_internal_errors_are_not_dressed_as_spec_errors(monkeypatch, tmp_path):
    import nasdsl.api

    def boom(*a, **k):
        raise RuntimeError("invariant broken")

    monkeypatch.setattr(nasdsl.api, "compile_spec", boom)
    r = run("check", str(SPECS / "unet.nas"))
    assert r.exit_code == 3 and "internal error" in r.output and "bug" in r.output
