"""The elaborator's interface to the modules that do parts of its work.

`sema/elaborate.py` runs statements; expressions and op/cell calls (`apply.py`), cell
`nodes` blocks (`cells.py`), undecided choices (`choices.py`) and the stride report
(`strides.py`) each receive the running elaboration as an `Elaboration`: the state they
read and write and the operations they call back, and nothing else. They import this
protocol, never `elaborate.py`, so `sema/` has no import cycle, not even for type
checking, and a change to the elaborator's private helpers cannot break them.
"""

from __future__ import annotations

from typing import Any, Protocol

from nasdsl.diagnostics import DiagnosticSink
from nasdsl.ir.decisions import DecisionPoint
from nasdsl.ir.graph import Call, CellInstance, Node
from nasdsl.ir.types import TensorType
from nasdsl.sema.budget import Budget
from nasdsl.sema.scope import Env
from nasdsl.sema.values import OpRef, Tensor
from nasdsl.source import Span
from nasdsl.syntax import ast as A


class Elaboration(Protocol):
    # ---- state shared with the helper modules ---------------------------------------
    sink: DiagnosticSink
    budget: Budget
    symbols: set[str]                   # bare names the registry's attributes accept
    root_env: Env
    input_size: tuple[int, ...] | None  # the patch size, when declared
    nodes: list[Node]                   # the graph built so far
    cells: list[CellInstance]
    calls: list[Call]
    call: int | None                    # the innermost op/cell call being elaborated
    call_choices: str                   # choices of that call's arguments (its key)
    choice_values: dict[str, str]       # value choice target -> chosen value
    cell: str | None                    # the cell being elaborated (decision prefix)
    scope: tuple[str, ...]              # module path of the current call
    hint: str | None                    # path component of the current statement
    taken: set[tuple[str, ...]]         # module paths already given out
    loops: tuple[int, ...]              # indices of the enclosing `for` loops
    depth: int                          # op/cell call depth
    failures: int                       # statements that failed

    # ---- statements and values --------------------------------------------------------
    def block(self, body: tuple[A.Stmt, ...], env: Env, top: bool = False) -> None: ...

    def bind(self, t: A.Target, value: Any, env: Env) -> None: ...

    def eval(self, e: A.Expr, env: Env) -> Any: ...

    def candidate_label(self, e: A.Expr, env: Env) -> str: ...

    # ---- decisions --------------------------------------------------------------------
    def record(self, point: DecisionPoint) -> None: ...

    def decide_node(self, inputs: DecisionPoint, edges: dict[str, DecisionPoint]
                    ) -> tuple[tuple[str, ...], dict] | None: ...

    # ---- graph building ---------------------------------------------------------------
    def need_dims(self, span: Span) -> int: ...

    def add_node(self, op: str, attrs: tuple, inputs: tuple[int, ...], ttype: TensorType,
                 path: tuple[str, ...], span: Span) -> int: ...

    def apply_op(self, op: OpRef, tensors: list[Tensor], attrs: dict[str, Any], span: Span,
                 path: tuple[str, ...] | None = None) -> Tensor: ...

    def fresh_path(self, base: str) -> tuple[str, ...]: ...

    def fresh_op_path(self, opname: str) -> tuple[str, ...]: ...


__all__ = ["Elaboration"]
