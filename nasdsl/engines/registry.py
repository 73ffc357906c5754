"""Engine registry: what each search engine accepts, without importing torch.

Each engine declares the decision kinds it can search and its settings (type, default,
range). A spec's `search { ... }` block is checked against the engine it names, and
`nasdsl check --engine E` asks `blockers(E, ...)` which decisions E cannot search.

Decision kinds, as an engine sees them:
  op          a mixed node of the supernet: one candidate op per label (cell edges,
              macro layer choices, per-value candidates of a same-shape value choice)
  inputs      a `choose` node of the supernet: k of n incoming edges
  structural  a decision the supernet cannot hold as a mixed/choose node (patch size,
              strides, optional stages): each child is re-elaborated, its modules come
              from one shared weight bank
The relaxed engines (DARTS, PC-DARTS) need every decision inside the supernet; the
sampling engines (ENAS, random) take any decision; ProxylessNAS gates op and inputs
decisions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from nasdsl.diagnostics import suggest

KINDS = ("op", "inputs", "structural")


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    type: str                   # int | float | bool | choice
    default: Any
    lo: float | None = None     # inclusive bounds for int/float
    hi: float | None = None
    choices: tuple[str, ...] = ()
    doc: str = ""

    def check(self, value: Any) -> str | None:
        """None when `value` fits, else a message (expected vs found)."""
        found = _describe(value)
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


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _describe(value: Any) -> str:
    name = getattr(value, "name", None)
    if isinstance(name, str):
        return f"`{name}`"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)


@dataclass(frozen=True, slots=True)
class EngineSpec:
    name: str
    kinds: tuple[str, ...]
    settings: tuple[Setting, ...]
    doc: str
    shares_weights: bool        # a child's weights hand over to the standalone module

    def setting(self, name: str) -> Setting | None:
        return next((s for s in self.settings if s.name == name), None)

    def defaults(self) -> dict[str, Any]:
        return {s.name: s.default for s in self.settings}


def _s(name: str, type_: str, default: Any, lo=None, hi=None, choices=(), doc="") -> Setting:
    return Setting(name, type_, default, lo, hi, tuple(choices), doc)


# Settings every engine reads: the weight phase and the run.
_COMMON = (
    _s("epochs", "int", 50, 1, 100_000, doc="search epochs"),
    _s("batch_size", "int", 2, 1, 4096, doc="minibatch size"),
    _s("steps_per_epoch", "int", 0, 0, 10_000_000, doc="0 = one pass over the train split"),
    _s("seed", "int", 0, 0, 2**31 - 1),
    _s("val_fraction", "float", 0.5, 0.05, 0.95, doc="train/validation split of the data"),
    _s("weight_lr", "float", 0.025, 0.0, 10.0),
    _s("weight_momentum", "float", 0.9, 0.0, 1.0),
    _s("weight_decay", "float", 3e-4, 0.0, 1.0),
    _s("grad_clip", "float", 5.0, 0.0, 1e6, doc="0 = no clipping"),
)
_ARCH = (
    _s("arch_lr", "float", 3e-4, 0.0, 10.0),
    _s("arch_weight_decay", "float", 1e-3, 0.0, 1.0),
    _s("arch_start_epoch", "int", 0, 0, 100_000, doc="weights only before this epoch"),
    _s("patience", "int", 0, 0, 100_000,
       doc="stop when the derived genotype is unchanged this many epochs (0 = never)"),
)

ENGINES: dict[str, EngineSpec] = {}


def _register(spec: EngineSpec) -> None:
    ENGINES[spec.name] = spec


_register(EngineSpec(
    "darts", ("op", "inputs"), _COMMON + _ARCH + (
        _s("order", "int", 1, 1, 1, doc="first order only (the NAS-Unet authors' setting)"),
        # the NAS-Unet authors' search (specs/nas_unet.nas)
        _s("epochs", "int", 300, 1, 100_000),
        _s("arch_start_epoch", "int", 10, 0, 100_000, doc="weights only before this epoch"),
        _s("patience", "int", 40, 0, 100_000,
           doc="stop when the derived genotype is unchanged this many epochs (0 = never)"),
        _s("arch_weight_decay", "float", 5e-3, 0.0, 1.0),
        _s("batch_size", "int", 6, 1, 4096),
    ),
    "first-order DARTS: every candidate of every edge runs, weighted by softmax(alpha)",
    shares_weights=True))
_register(EngineSpec(
    "pc_darts", ("op", "inputs"), _COMMON + _ARCH + (
        _s("k", "int", 4, 1, 64, doc="1/k of the channels go through the mixed op"),
        _s("warmup_epochs", "int", 15, 0, 100_000, doc="weights only for this many epochs"),
        _s("weight_lr", "float", 0.1, 0.0, 10.0),
        _s("arch_lr", "float", 6e-4, 0.0, 10.0),
    ),
    "PC-DARTS: partial channels with shuffle, edge normalisation, beta*alpha derivation",
    shares_weights=False))
_register(EngineSpec(
    "proxyless", ("op", "inputs"), _COMMON + _ARCH + (
        _s("mode", "choice", "two", choices=("two", "full_v2"),
           doc="two sampled paths, or one path with recomputed gate gradients"),
        _s("arch_every", "int", 5, 1, 10_000, doc="weight steps per architecture step"),
        _s("arch_lr", "float", 1e-3, 0.0, 10.0),
        _s("arch_weight_decay", "float", 0.0, 0.0, 1.0),
        _s("warmup_epochs", "int", 0, 0, 100_000),
        _s("cost", "choice", "params", choices=("params", "flops")),
        _s("cost_weight", "float", 0.1, 0.0, 1e6,
           doc="lambda of the expected-cost term (relative to the budget)"),
    ),
    "ProxylessNAS: binary gates over sampled paths, expected-cost term",
    shares_weights=True))
_register(EngineSpec(
    "enas", ("op", "inputs", "structural"), _COMMON + (
        _s("epochs", "int", 150, 1, 100_000, doc="controller episodes"),
        _s("children_per_episode", "int", 20, 1, 10_000),
        _s("child_epochs", "int", 3, 1, 10_000),
        _s("controller_lr", "float", 1e-3, 0.0, 10.0),
        _s("controller_steps", "int", 1, 1, 10_000, doc="controller updates per episode"),
        _s("entropy_weight", "float", 1e-4, 0.0, 10.0),
        _s("lstm_size", "int", 100, 4, 4096),
        _s("lstm_layers", "int", 2, 1, 8),
        _s("baseline_decay", "float", 0.95, 0.0, 1.0),
        _s("temperature", "float", 5.0, 0.0, 1e6, doc="0 = none"),
        _s("tanh_constant", "float", 2.5, 0.0, 1e6, doc="0 = none"),
        _s("retrain", "bool", False, doc="false: the derived net keeps the shared weights"),
        _s("first_child_max", "bool", True,
           doc="the first child is the largest one (confirms memory)"),
        _s("weight_lr", "float", 1e-3, 0.0, 10.0),
        _s("weight_decay", "float", 1e-4, 0.0, 1.0),
    ),
    "ENAS: LSTM controller over the whole decision table, REINFORCE, shared weights",
    shares_weights=True))
_register(EngineSpec(
    "random", ("op", "inputs", "structural"), _COMMON + (
        _s("samples", "int", 10, 1, 1_000_000, doc="architectures drawn"),
        _s("child_epochs", "int", 1, 0, 10_000, doc="shared-weight epochs per sample"),
        _s("weight_lr", "float", 1e-3, 0.0, 10.0),
    ),
    "random search over the decision table, within the spec's constraints",
    shares_weights=True))


def _merged(settings: tuple[Setting, ...]) -> dict[str, Setting]:
    """Later declarations of a name override earlier ones (engine-specific defaults)."""
    out: dict[str, Setting] = {}
    for s in settings:
        out[s.name] = s
    return out


def engine_settings(name: str) -> dict[str, Setting]:
    return _merged(ENGINES[name].settings)


def all_setting_names() -> set[str]:
    return {s.name for e in ENGINES.values() for s in e.settings} | {"engine"}


@dataclass(frozen=True, slots=True)
class SettingProblem:
    name: str
    message: str
    on_value: bool              # the span to point at: the value, else the whole setting
    hint: str | None = None


def check_settings(engine: str | None, values: dict[str, Any]) -> list[SettingProblem]:
    """Problems of a `search` block: unknown names, wrong types, out-of-range values."""
    known = engine_settings(engine) if engine in ENGINES else {
        n: s for e in ENGINES for n, s in engine_settings(e).items()}
    problems: list[SettingProblem] = []
    for name, value in values.items():
        if name == "engine":
            continue
        setting = known.get(name)
        if setting is None:
            problems.append(_unknown(engine, name, known))
            continue
        msg = setting.check(value)
        if msg is not None:
            hint = f"default {_describe(setting.default)}" + (f"; {setting.doc}"
                                                              if setting.doc else "")
            problems.append(SettingProblem(name, f"search setting `{name}` {msg}", True, hint))
    return problems


def _unknown(engine: str | None, name: str, known: dict[str, Setting]) -> SettingProblem:
    hint = suggest(name, known)
    if hint is None:
        others = [e for e in ENGINES if name in engine_settings(e)]
        hint = (f"`{name}` is a setting of {', '.join(others)}" if others
                else "settings: " + ", ".join(sorted(known)))
    where = f"engine `{engine}`" if engine in ENGINES else "any engine"
    return SettingProblem(name, f"unknown search setting `{name}` for {where}", False, hint)


def resolve_settings(engine: str, block: dict[str, Any],
                     overrides: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[str]]:
    """Defaults <- the spec's block <- command-line overrides, for one engine.

    Settings the block holds for another engine (the spec names `darts`, the command
    line asks for `pc_darts`) are dropped and named in the returned list.
    """
    known = engine_settings(engine)
    out = {n: s.default for n, s in known.items()}
    dropped = []
    for source in (block, overrides or {}):
        for name, value in source.items():
            if name == "engine":
                continue
            if name not in known:
                dropped.append(name)
                continue
            out[name] = known[name].normalise(value)
    return out, dropped


# ---- pairing: which decisions an engine cannot search --------------------------------------
@dataclass(frozen=True, slots=True)
class Blocker:
    decision: str
    kind: str
    reason: str


def decision_kinds(table: Iterable[Any], graph: Any) -> dict[str, str]:
    """Kind of every decision as engines see it: op / inputs held by the supernet's
    mixed / choose nodes, anything else structural."""
    held: dict[str, str] = {}
    for n in graph.nodes:
        if n.op == "mixed":
            held[n.attr("decision")] = "op"
        elif n.op == "choose":
            held[n.attr("decision")] = "inputs"
    return {p.id: held.get(p.id, "structural") for p in table}


def blockers(engine: str, table: Iterable[Any], graph: Any) -> list[Blocker]:
    """Decisions of the space that `engine` cannot search (empty: the pairing works)."""
    spec = ENGINES[engine]
    out = []
    for did, kind in decision_kinds(table, graph).items():
        if kind not in spec.kinds:
            out.append(Blocker(did, kind, f"{engine} searches {', '.join(spec.kinds)} "
                               f"decisions; `{did}` is {kind} (it changes the network's "
                               "structure, so the supernet cannot hold its candidates)"))
    return out
