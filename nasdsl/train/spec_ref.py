"""How a run names its network: spec path, -D defines and hashes, in the manifest.

A run directory stores the spec by path plus hashes (not a copy: a genotype refers to its
space by a relative path). Export and inference recompile it and refuse, naming the file,
when it changed since training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from nasdsl.api import Compiled, UsageError, compile_spec, parse_override
from nasdsl.runs import file_hash


def spec_record(path: str, defines: Sequence[str], compiled: Compiled) -> dict[str, Any]:
    return {"path": str(Path(path).resolve()), "defines": list(defines),
            "file_hash": file_hash(path), "space_path": str(Path(compiled.space_path).resolve()),
            "space_hash": file_hash(compiled.space_path),
            "genotype_hash": compiled.genotype_hash(), "name": compiled.unit.name}


def compile_defines(path: str, defines: Sequence[str]) -> Compiled:
    overrides = dict(parse_override(d) for d in defines)
    return compile_spec(path, overrides)


def recompile(record: dict[str, Any]) -> Compiled:
    """The run's network again; a UsageError if its spec files changed or vanished."""
    for key, hkey in (("path", "file_hash"), ("space_path", "space_hash")):
        p = Path(record[key])
        if not p.is_file():
            raise UsageError(f"{p}: the spec this run was trained from is gone")
        if file_hash(p) != record[hkey]:
            raise UsageError(f"{p}: changed since this run was trained (hash "
                             f"{file_hash(p)}, recorded {record[hkey]})")
    compiled = compile_defines(record["path"], record["defines"])
    if compiled.genotype_hash() != record["genotype_hash"]:
        raise UsageError(f"{record['path']}: compiles to another network than the run's "
                         f"(genotype hash {compiled.genotype_hash()}, recorded "
                         f"{record['genotype_hash']})")
    return compiled


__all__ = ["spec_record", "compile_defines", "recompile"]
