"""The one op registry used by every backend (import-light: no torch here)."""

from nasdsl.ops.registry import REGISTRY, AttrSpec, OpDef, OpError, get_op

# NOTE: importing the library registers the built-in ops.
from nasdsl.ops import library as _library  # noqa: F401,E402

__all__ = ["REGISTRY", "AttrSpec", "OpDef", "OpError", "get_op"]
