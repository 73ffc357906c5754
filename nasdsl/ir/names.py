"""The only producer of Python identifiers and parameter paths for emitted code.

A node path from the spec, e.g. ("enc[2]", "n[0]", "p1"), becomes the module path
`enc_2.n_0.p1`; its parameters are `enc_2.n_0.p1.<impl attribute>.weight`. The supernet
backend places candidate op `label` of the same edge at `enc_2.n_0.p1.ops.<label>`, so
a supernet state_dict restricted to a genotype maps onto the standalone module by
dropping `ops.<label>.` (see `supernet_key_to_standalone`).
"""

from __future__ import annotations

import keyword
import re

from nasdsl.diagnostics import InternalError
from nasdsl.ir.module_reserved import NN_MODULE_ATTRIBUTES

_COMPONENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\[[0-9]+\])*(_[0-9]+)?$")
SUPERNET_OPS = "ops"


def component_ident(component: str) -> str:
    """`enc[2]` -> `enc_2`, `X[1][0]` -> `X_1_0`; refuses anything else (defence in depth:
    spec names were validated by the front end, this keeps the emitter honest)."""
    if not _COMPONENT.match(component):
        raise InternalError(f"unsafe path component {component!r} reached the emitter")
    ident = component.replace("][", "_").replace("[", "_").replace("]", "")
    if keyword.iskeyword(ident) or not ident.isidentifier():
        raise InternalError(f"path component {component!r} is not a Python identifier")
    return ident


class Namespace:
    """Unique identifiers within one scope (a module's attributes, a function's locals)."""

    def __init__(self, reserved: set[str] | None = None):
        self.used: set[str] = set(reserved or ())

    def fresh(self, base: str) -> str:
        if not base.isidentifier() or keyword.iskeyword(base):
            raise InternalError(f"bad identifier base {base!r}")
        name, n = base, 1
        while name in self.used:
            n += 1
            name = f"{base}_{n}"
        self.used.add(name)
        return name


def module_path(path: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(component_ident(c) for c in path)


def supernet_key_to_standalone(key: str, chosen: dict[str, str]) -> str | None:
    """Map a supernet state_dict key to the standalone key, or None if not chosen.

    `chosen` maps an edge module path (`enc_2.n_0.p1`) to the op label kept there.
    """
    parts = key.split(".")
    for i in range(len(parts) - 2):
        if parts[i + 1] == SUPERNET_OPS:
            edge = ".".join(parts[: i + 1])
            if edge in chosen:
                if parts[i + 2] != chosen[edge]:
                    return None
                return ".".join(parts[: i + 1] + parts[i + 3:])
    return key


# Attribute names an emitted module cannot take: every public nn.Module attribute
# (generated from torch, see module_reserved.py) plus the emitted class's own.
MODULE_RESERVED = NN_MODULE_ATTRIBUTES | {"to_channels_last", SUPERNET_OPS}


class ModuleNamer:
    """Dotted attribute paths for node paths, the same for every backend.

    Containers are created on the way down; `on_container` hears of each new one in
    order, so an emitter can declare it right before its first leaf.
    """

    def __init__(self, on_container=None):
        self.attrs: dict[tuple[str, ...], str] = {}
        self.scopes: dict[tuple[str, ...], Namespace] = {}
        self.on_container = on_container

    def attr_path(self, path: tuple[str, ...]) -> str:
        idents = module_path(path)
        out: tuple[str, ...] = ()
        for i, ident in enumerate(idents):
            key = path[: i + 1]
            if key not in self.attrs:
                ns = self.scopes.setdefault(out, Namespace(MODULE_RESERVED))
                self.attrs[key] = ns.fresh(ident)
                if i < len(idents) - 1 and self.on_container is not None:
                    self.on_container(".".join(out + (self.attrs[key],)))
            out = out + (self.attrs[key],)
        return ".".join(out)


def class_ident(name: str) -> str:
    """A class name for a cell or op: `DownSC` stays, `conv_block` -> `ConvBlock`."""
    if not name or not name.isidentifier():
        raise InternalError(f"unsafe class name {name!r} reached the emitter")
    if name[0].isupper():
        return name
    ident = "".join(part[:1].upper() + part[1:] for part in name.split("_"))
    return ident if ident.isidentifier() else "Op" + ident


def local_ident(name: str) -> str:
    """A spec name (a formal) as a local variable base; never a keyword."""
    if not name.isidentifier() or not name.isascii():
        raise InternalError(f"unsafe name {name!r} reached the emitter")
    return name + "_" if keyword.iskeyword(name) else name
