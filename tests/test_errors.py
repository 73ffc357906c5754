"""One error hierarchy, one guard: every user mistake is a UserError with exit 1 or 2,
printed on stderr; anything else is exit 3 "please report" (issue #15 row 8, #18.7)."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil

import pytest
from click.testing import CliRunner

import nasdsl
from conftest import ROOT, SPECS
from nasdsl.cli import main
from nasdsl.errors import EngineCannotSearch, InputError, UnknownEngine, UsageError, \
    UserError

# Exceptions that never leave nasdsl's own code: each is caught where it is raised and
# turned into a diagnostic or a UserError (or, for InternalError, is a bug by design).
INTERNAL = {
    "nasdsl.errors.InternalError", "nasdsl.sema.choices.Structural",
    "nasdsl.sema.exprs.EvalError", "nasdsl.sema.exprs._Silent",
    "nasdsl.sema.budget.Exhausted", "nasdsl.sema.scope.Return",
    "nasdsl.sema.genotype.NotALiteral", "nasdsl.ops.registry.OpError",
    "nasdsl.train.step.NonFiniteLoss", "nasdsl.backends.verify_child.ChildFailed",
    "nasdsl.backends.onnx_export.VerificationError", "nasdsl.spec_files.SpecFileError",
}


def _exception_classes():
    for info in pkgutil.walk_packages(nasdsl.__path__, "nasdsl."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__ == info.name:
                yield f"{cls.__module__}.{cls.__qualname__}", cls


def test_every_exception_class_is_a_user_error_or_a_known_internal_one():
    seen = dict(_exception_classes())
    loose = [name for name, cls in seen.items()
             if not issubclass(cls, UserError) and name not in INTERNAL]
    assert not loose, (f"{loose}: derive from nasdsl.errors.InputError (exit 1) or "
                       "UsageError (exit 2), or list it in INTERNAL with why it never "
                       "reaches the CLI")
    for name in ["nasdsl.runs.RunError", "nasdsl.engines.loop.SearchError",
                 "nasdsl.engines.budget.BudgetError", "nasdsl.data.errors.DataError",
                 "nasdsl.outputs.OutputError", "nasdsl.diagnostics.NasError",
                 "nasdsl.backends.standalone.BackendError", "nasdsl.train.loop.TrainingStopped",
                 "nasdsl.backends.dot.RenderError"]:
        assert issubclass(seen[name], UserError) and seen[name].exit_code in (1, 2), name


def _reports(handler: ast.ExceptHandler) -> bool:
    """A handler that prints or exits: it decides a message or an exit code itself."""
    for node in ast.walk(handler):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if name in ("echo", "secho", "exit", "print"):
                return True
        if isinstance(node, ast.Return):
            return True
    return False


def test_the_cli_has_one_guard():
    """No command module catches an exception to print it or pick an exit code: only
    cli_guard.guard does (catching to collect and re-raise, as `check` does, is fine)."""
    for path in sorted((ROOT / "nasdsl").glob("cli*.py")):
        tree = ast.parse(path.read_text())
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or \
                    (path.name == "cli_guard.py" and fn.name == "guard"):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ExceptHandler) and _reports(node):
                    raise AssertionError(f"{path.name}:{node.lineno}: `{fn.name}` reports an "
                                         "exception itself; raise a nasdsl.errors.UserError")
    assert type(main).__name__ == "_GuardedGroup"


@pytest.mark.parametrize("exc, code", [
    ("nasdsl.runs:RunError", 2), ("nasdsl.engines.loop:SearchError", 2),
    ("nasdsl.engines.budget:BudgetError", 2), ("nasdsl.data.errors:DataError", 2),
    ("nasdsl.train.loop:TrainingStopped", 1), ("nasdsl.errors:EngineCannotSearch", 1),
])
def test_run_maps_every_user_error_to_its_code(monkeypatch, tmp_path, exc, code):
    """`nasdsl run` had only the base guard: RunError, SearchError, BudgetError exited 3."""
    import nasdsl.pipeline.run as pipeline

    module, name = exc.split(":")
    cls = getattr(importlib.import_module(module), name)

    def boom(self):
        raise cls("somewhere", "what went wrong") if name == "DataError" \
            else cls("what went wrong")

    monkeypatch.setattr(pipeline.Pipeline, "run", boom)
    r = CliRunner().invoke(main, ["run", str(SPECS / "nas_unet.nas"),
                                  "--out", str(tmp_path / "o")])
    assert r.exit_code == code, r.output
    assert "what went wrong" in r.stderr and "Traceback" not in r.output
    assert r.stdout == ""


def test_unknown_engine_is_a_usage_error_on_stderr_before_any_work(tmp_path):
    out = tmp_path / "o"
    for args in (["check", str(SPECS / "nas_unet.nas"), "--engine", "nope"],
                 ["run", str(SPECS / "nas_unet.nas"), "--out", str(out), "--engine", "nope"],
                 ["search", str(SPECS / "nas_unet.nas"), "--data", str(tmp_path),
                  "--out", str(out), "--engine", "nope"]):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 2, (args, r.output)
        assert "unknown engine" in r.stderr and r.stdout == "", (args, r.output)
    assert not out.exists()


def test_an_engine_that_cannot_search_the_space_is_exit_1_in_check_and_search(tmp_path):
    """Was exit 1 in `check` and exit 2 in `search` (#18.7)."""
    assert issubclass(EngineCannotSearch, InputError)
    assert issubclass(UnknownEngine, UsageError)
    spec = str(SPECS / "ronasmis.nas")   # kernel-size choices: darts cannot relax them
    r = CliRunner().invoke(main, ["check", spec, "--engine", "darts"])
    assert r.exit_code == 1 and "cannot search" in r.output, r.output
    r = CliRunner().invoke(main, ["search", spec, "--engine", "darts", "--data",
                                  str(tmp_path), "--out", str(tmp_path / "o")])
    assert r.exit_code == 1 and "cannot search" in r.stderr, r.output
    assert not (tmp_path / "o").exists()


def test_internal_errors_say_please_report(monkeypatch):
    import nasdsl.api

    monkeypatch.setattr(nasdsl.api, "compile_spec",
                        lambda *a, **k: (_ for _ in ()).throw(KeyError("x")))
    r = CliRunner().invoke(main, ["check", str(SPECS / "unet.nas")])
    assert r.exit_code == 3 and "please report" in r.stderr and r.stdout == ""
