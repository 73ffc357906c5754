"""The front end's public names, one import away: `from nasdsl.api import compile_spec`.

Each job lives in its own module; this façade re-exports them because some sixty
callers (commands, pipeline, engines, tests, benches, other sessions' work in flight)
import from here, and one stable import path is worth more than moving them all:

- `compiler.py`: file -> AST -> IR + decision table -> checks (`compile_spec`, children)
- `compiled.py`: the `Compiled` artifact every later stage reads
- `constraints.py`: the spec's `constraint`s evaluated on one architecture
- `bounds.py`: parameter/FLOP figures and a space's bounds (`summarize`)
- `sema/overrides.py`: `-D NAME=VALUE` and `--input-size` parsing
"""

from __future__ import annotations

from nasdsl.bounds import Summary, summarize
from nasdsl.compiled import Compiled
from nasdsl.compiler import (MAX_PARAMETERS, check_architecture, compile_assignment,
                             compile_spec, parse_text, read_unit)
from nasdsl.constraints import ConstraintResult
from nasdsl.diagnostics import NasError
from nasdsl.errors import UsageError
from nasdsl.sema.overrides import parse_override, parse_size
from nasdsl.source import SourceFile

__all__ = ["Compiled", "compile_spec", "compile_assignment", "check_architecture",
           "ConstraintResult", "summarize", "Summary", "read_unit", "parse_text",
           "UsageError", "parse_override", "parse_size", "NasError", "SourceFile",
           "MAX_PARAMETERS"]
