"""The shape of an engine's settings: each setting's type, range, default and the source
of that default, and how one engine's values resolve (defaults <- its spec block <- --set).

No torch and nothing of `nasdsl.engines` here: the front end (sema, `nasdsl check`) reads
this to check `search` blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

DEFAULT, SPEC, CLI = "engine default", "spec", "--set"


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    type: str                   # int | float | bool | choice
    default: Any
    source: str                 # where the default comes from (paper, authors' code, ours)
    lo: float | None = None     # inclusive bounds for int/float
    hi: float | None = None
    choices: tuple[str, ...] = ()
    doc: str = ""
    # a default given for `scale[1]` epochs, scaled to the run's epochs (PC-DARTS warms up
    # 15 of 50 epochs; a 3-epoch run warms up 1)
    scale: tuple[str, int] | None = None

    def check(self, value: Any) -> str | None:
        """None when `value` fits, else a message (expected vs found)."""
        found = describe(value)
        if self.type == "bool":
            return None if isinstance(value, bool) else f"must be true or false, found {found}"
        if self.type == "choice":
            name = getattr(value, "name", value)
            if isinstance(name, str) and name in self.choices:
                return None
            return f"must be one of {', '.join(self.choices)}, found {found}"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number, found {found}"
        if self.type == "int" and not isinstance(value, int):
            return f"must be an integer, found {found}"
        if (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
            return f"must be in {self.describe_range()}, found {found}"
        return None

    def describe_range(self) -> str:
        lo = "-inf" if self.lo is None else _num(self.lo)
        hi = "inf" if self.hi is None else _num(self.hi)
        return f"[{lo}, {hi}]"

    def normalise(self, value: Any) -> Any:
        if self.type == "choice":
            return getattr(value, "name", value)
        if self.type == "float":
            return float(value)
        return value

    def default_for(self, values: dict[str, Any]) -> Any:
        if self.scale is None:
            return self.default
        of, at = self.scale
        return int(round(self.default * int(values[of]) / at))


@dataclass(frozen=True, slots=True)
class Resolved:
    """One resolved setting: its value and where it came from."""
    value: Any
    origin: str                 # DEFAULT | SPEC | CLI
    note: str = ""              # the default's source, or how a scaled default was made


@dataclass(frozen=True, slots=True)
class Problem:
    """A setting (or a pairing) that cannot work. `setting` names the setting to point at
    (None: the space itself); `node_span` points into the space when the IR refutes it."""
    code: str
    message: str
    setting: str | None = None
    hint: str | None = None
    on_value: bool = True
    node_span: Any = None


SettingsCheck = Callable[[dict[str, Resolved]], list[Problem]]
SpaceCheck = Callable[[Any, dict[str, Resolved]], list[Problem]]


@dataclass(frozen=True, slots=True)
class EngineSpec:
    """One engine as the front end knows it: the decision kinds it searches, its settings,
    and its own checks (settings against each other; settings against a compiled space)."""
    name: str
    kinds: tuple[str, ...]
    settings: tuple[Setting, ...]
    doc: str
    shares_weights: bool        # a child's weights hand over to the standalone module
    # settings other engines have that mean nothing here: name -> why
    not_here: dict[str, str]
    setting_checks: tuple[SettingsCheck, ...] = ()
    space_checks: tuple[SpaceCheck, ...] = ()

    def setting(self, name: str) -> Setting | None:
        return self.by_name().get(name)

    def by_name(self) -> dict[str, Setting]:
        return {s.name: s for s in self.settings}

    def defaults(self) -> dict[str, Any]:
        """Defaults at the engine's own epoch count."""
        out = {s.name: s.default for s in self.settings}
        return {s.name: s.default_for(out) for s in self.settings}

    def resolve(self, block: dict[str, Any], overrides: dict[str, Any] | None = None
                ) -> dict[str, Resolved]:
        """Defaults <- the engine's spec block <- command-line overrides. Values are
        assumed checked (`check_values`); a scaled default follows the resolved epochs."""
        known = self.by_name()
        given: dict[str, Resolved] = {}
        for origin, source in ((SPEC, block), (CLI, overrides or {})):
            for name, value in source.items():
                if name != "engine" and name in known:
                    given[name] = Resolved(known[name].normalise(value), origin)
        plain = {n: (given[n].value if n in given else s.default) for n, s in known.items()}
        out: dict[str, Resolved] = {}
        for name, s in known.items():
            if name in given:
                out[name] = given[name]
            elif s.scale is not None:
                of, at = s.scale
                value = s.default_for(plain)
                scaled = f", scaled to {plain[of]}" if plain[of] != at else ""
                note = f"{s.default} of {at} {of}{scaled}; {s.source}"
                out[name] = Resolved(value, DEFAULT, note)
            else:
                out[name] = Resolved(s.default, DEFAULT, s.source)
        return out


def values(resolved: dict[str, Resolved]) -> dict[str, Any]:
    return {k: r.value for k, r in resolved.items()}


def explicit(resolved: dict[str, Resolved], name: str) -> bool:
    """Whether the user gave `name` (spec or --set): only those are errors when idle."""
    r = resolved.get(name)
    return r is not None and r.origin != DEFAULT


def origin_text(resolved: dict[str, Resolved], name: str) -> str:
    r = resolved[name]
    return f"{name} = {describe(r.value)} ({r.origin})"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def describe(value: Any) -> str:
    name = getattr(value, "name", None)
    if isinstance(name, str):
        return f"`{name}`"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)
