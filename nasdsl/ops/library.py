"""The built-in op library: importing it registers every op once (no torch here)."""

from nasdsl.ops import lib_core, lib_darts, lib_nasunet  # noqa: F401
