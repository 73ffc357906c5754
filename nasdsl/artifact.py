"""A run's network as one typed, fingerprinted file: RUN/network.json.

A run (training or search) records, once at its start, everything that rebuilds its
network without the user's files: the text of the spec it named and of the space a
genotype names (each with its original file name, for messages), the typed `-D` values,
the `--input-size` override, and, as checks of the rebuild, the decisions taken, the
resolved parameters and the genotype hash. A SHA-256 fingerprint covers all of it, and
the manifest records that fingerprint. Every later stage (resume, eval, infer, export,
`nasdsl run`'s stages, trials, a search's resume and `load_engine_from_run`) reads this
file; none re-reads a spec path the user may have edited or moved since, and none parses
`-D` strings again. A resumed run therefore continues the network it started with, even
when the user's spec changed: the artifact is the truth, the manifest's paths and hashes
are provenance.

Why the network is rebuilt by compiling the embedded text instead of storing the IR:
the front end is the one place where a spec's structure, types and bounds on work are
checked, and a run directory may come from someone else. A JSON IR deserialiser would
need its own complete validation of every node, type and attribute to be as safe, and
would drift from the front end; compiling the text re-runs all of the front end's checks
(size, nesting, elaboration budget) on whatever the file holds. The fingerprint catches
corruption and accidental edits (it is no signature: a forged file is still just an
untrusted spec), and the rebuilt network must match the recorded genotype hash and
decisions, so a nasdsl whose front end changed cannot silently build another network.

Compiles are cached by the compile's inputs (texts, overrides, size), so one process
compiles one artifact once (`nasdsl export`, `nasdsl run`'s stages). The cache is an
`nasdsl.caches.Lru`, the one cache policy.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from nasdsl.caches import Lru
from nasdsl.compiled import Compiled
from nasdsl.compiler import compile_spec, parse_text
from nasdsl.diagnostics import DiagnosticSink, NasError
from nasdsl.errors import UsageError
from nasdsl.manifests import (Int, List, ManifestError, Map, Null, Obj, Str, describe,
                              validate)
from nasdsl.runs import NETWORK, RunDir, RunError, atomic_write_bytes, read_bounded
from nasdsl.sema.values import Symbol, show
from nasdsl.spec_files import MAX_SPEC_BYTES, SpecFileError, printable, read_spec_bytes

FORMAT = 1
# two embedded specs of at most MAX_SPEC_BYTES each, escaped by JSON (at most 6 bytes a
# character for control characters), plus a small record
MAX_ARTIFACT_BYTES = 16 << 20
MAX_VALUE_DEPTH = 8          # a -D value or decision is a scalar or a short tuple
COMPILES_KEPT = 8            # a process handles one run, `nasdsl trials` a few at a time
KINDS = ("space", "arch", "genotype")


class ArtifactError(ManifestError):
    """A network.json that cannot be used (damaged, edited, of another format): exit 2,
    like any run-directory file (nasdsl.errors), naming the file."""

    def __init__(self, file: str, message: str):
        super().__init__(file, "", message, show_found=False)


@dataclass(frozen=True)
class SpecText:
    """One embedded spec file: the name it had when the run started, and its text."""
    name: str
    text: str


@dataclass(frozen=True)
class NetworkArtifact:
    kind: str                                  # space | arch | genotype
    name: str                                  # the unit's name
    spec: SpecText                             # the file the run named
    space: SpecText | None                     # the space a genotype names (else None)
    overrides: tuple[tuple[str, Any], ...]     # typed -D values, by name
    input_size: tuple[int, ...] | None         # --input-size (None: the spec's own)
    decided: tuple[tuple[str, Any], ...]       # decision id -> label(s): a check
    params: tuple[tuple[str, str], ...]        # resolved parameters, shown: a record
    genotype_hash: str

    # ---- making one -------------------------------------------------------------------
    @classmethod
    def of(cls, compiled: Compiled, overrides: Mapping[str, Any]) -> NetworkArtifact:
        """The artifact of a network compiled from the user's files at a run's start
        (kept in the compile cache: the run's later stages find it there)."""
        spec = SpecText(compiled.path, compiled.unit.span.file.text)
        space = None if compiled.space_unit is compiled.unit else \
            SpecText(compiled.space_path, compiled.space_unit.span.file.text)
        art = cls(compiled.kind, compiled.unit.name, spec, space,
                  tuple(sorted(overrides.items())), compiled.size_override,
                  tuple(sorted(compiled.decided.items())),
                  tuple(sorted((k, show(v)) for k, v in compiled.params.items())),
                  compiled.genotype_hash())
        for key, value in art.overrides + art.decided:
            _encode(value, key)   # raises here, at the start, for a value JSON cannot hold
        _COMPILED.put(art.source_key(), compiled)
        return art

    # ---- identity ---------------------------------------------------------------------
    @property
    def fingerprint(self) -> str:
        """SHA-256 over the canonical JSON of everything the artifact holds."""
        return _digest(self._body())

    def source_key(self) -> str:
        """What a compile of this artifact depends on (the cache key)."""
        body = self._body()
        return _digest({k: body[k] for k in ("spec", "space", "overrides", "input_size")})

    # ---- the network ------------------------------------------------------------------
    def compiled(self, file: str = NETWORK) -> Compiled:
        """The network, compiled from the embedded text once per process."""
        return _COMPILED.get_or_make(self.source_key(), lambda: self._compile(file))

    def _compile(self, file: str) -> Compiled:
        compiled = compile_spec(self.spec.name, dict(self.overrides), self.input_size,
                                data=self.spec.text.encode(), engine_checks=False,
                                space_data=None if self.space is None
                                else self.space.text.encode())
        if compiled.genotype_hash() != self.genotype_hash or \
                tuple(sorted(compiled.decided.items())) != self.decided:
            raise ArtifactError(file, f"its spec compiles to another network than the run's "
                                f"(genotype hash {compiled.genotype_hash()}, recorded "
                                f"{self.genotype_hash}): was it written by another nasdsl "
                                "version?")
        return compiled

    # ---- the file ---------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {**self._body(), "fingerprint": self.fingerprint}

    def _body(self) -> dict[str, Any]:
        return {"format": FORMAT, "kind": self.kind, "name": self.name,
                "spec": {"name": self.spec.name, "text": self.spec.text},
                "space": None if self.space is None else
                {"name": self.space.name, "text": self.space.text},
                "overrides": {k: _encode(v, k) for k, v in self.overrides},
                "input_size": None if self.input_size is None else list(self.input_size),
                "decided": {k: _encode(v, k) for k, v in self.decided},
                "params": dict(self.params), "genotype_hash": self.genotype_hash}

    @classmethod
    def from_json(cls, value: Any, file: str) -> NetworkArtifact:
        """Checked field by field, then against its fingerprint (ArtifactError)."""
        if isinstance(value, dict) and value.get("format") != FORMAT:
            raise ArtifactError(file, f"format {describe(value.get('format'))} is not "
                                f"this nasdsl's ({FORMAT}); re-create the run with this "
                                "version")
        validate(value, SCHEMA, file)
        body = {k: v for k, v in value.items() if k != "fingerprint"}
        if _digest(body) != value["fingerprint"]:
            raise ArtifactError(file, "its content does not match its fingerprint (the "
                                "file was edited or damaged); re-create the run")
        space = value["space"]
        return cls(value["kind"], value["name"], _spec_text(value["spec"]),
                   None if space is None else _spec_text(space),
                   tuple(sorted((k, _decode(v, file, f"overrides.{k}"))
                                for k, v in value["overrides"].items())),
                   None if value["input_size"] is None else tuple(value["input_size"]),
                   tuple(sorted((k, _decode(v, file, f"decided.{k}"))
                                for k, v in value["decided"].items())),
                   tuple(sorted(value["params"].items())), value["genotype_hash"])


# ---- reading and writing a run's artifact ---------------------------------------------------
def write_artifact(folder: str | Path, artifact: NetworkArtifact) -> Path:
    path = RunDir(folder).inside(NETWORK)   # refuses a link
    text = json.dumps(artifact.to_json(), indent=1, sort_keys=True, ensure_ascii=False)
    atomic_write_bytes(path, (text + "\n").encode())
    return path


def network_record(artifact: NetworkArtifact) -> dict[str, Any]:
    """The manifest's pointer to network.json (a swapped-in file of another run is refused)."""
    return {"file": NETWORK, "fingerprint": artifact.fingerprint}


def read_artifact(folder: str | Path, expected: str | None = None) -> NetworkArtifact:
    """RUN/network.json, bounded, schema-checked and fingerprint-checked; `expected` is
    the fingerprint the run's manifest recorded (another run's network.json is refused)."""
    path = RunDir(folder).inside(NETWORK)
    file = str(path)
    try:
        raw = read_bounded(path, MAX_ARTIFACT_BYTES)
    except FileNotFoundError:
        raise RunError(f"{printable(file)}: missing; the run's manifest names its network "
                       "by this file, and nasdsl does not rebuild it from the spec path "
                       "(which may have changed): re-create the run") from None
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ArtifactError(file, f"damaged (not JSON: {str(exc)[:200]})") from None
    artifact = NetworkArtifact.from_json(value, file)
    if expected is not None and artifact.fingerprint != expected:
        raise ArtifactError(file, f"fingerprint {artifact.fingerprint[:16]} is not the "
                            f"{expected[:16]} the run's manifest records (the file belongs "
                            "to another run)")
    return artifact


def compile_files(path: str, overrides: Mapping[str, Any],
                  input_size: tuple[int, ...] | None = None) -> NetworkArtifact:
    """The artifact of the user's spec (read now, compiled once per process): what a run
    records at its start. The files are read once, their texts key the compile cache."""
    try:
        data = read_spec_bytes(path, require_suffix=True)
    except SpecFileError as err:
        raise UsageError(str(err)) from None
    space = None
    sink = DiagnosticSink()
    unit = _parse_quietly(path, data, sink)
    if unit is not None and unit.kind == "genotype" and unit.space_path is not None:
        space_path = str(Path(path).parent / unit.space_path)
        try:
            space = SpecText(space_path, read_spec_bytes(space_path, require_suffix=True)
                             .decode("utf-8"))
        except (SpecFileError, UnicodeDecodeError):
            space = None   # the compile below reports it as the front end does
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        probe = NetworkArtifact("", "", SpecText(path, text), space,
                                tuple(sorted(overrides.items())), input_size, (), (), "")
        hit = _COMPILED.get(probe.source_key())
        if hit is not None:
            return NetworkArtifact.of(hit, overrides)
    compiled = compile_spec(path, dict(overrides), input_size, data=data,
                            engine_checks=False, space_data=None if space is None
                            else space.text.encode())
    return NetworkArtifact.of(compiled, overrides)


def _parse_quietly(path: str, data: bytes, sink: DiagnosticSink):
    try:
        return parse_text(path, data, sink)
    except (NasError, RecursionError):
        return None   # compiled below, which reports it


# ---- the typed values of -D and of decisions --------------------------------------------------
def _encode(v: Any, where: str, depth: int = 0) -> Any:
    """A -D value or decision label as JSON that keeps its type: numbers, booleans and
    label strings as themselves, a bare name as {"name": ...}, a tuple as {"tuple": [...]}."""
    if depth > MAX_VALUE_DEPTH:
        raise UsageError(f"`{where}`: value nested too deeply to record")
    if isinstance(v, bool) or isinstance(v, (int, str)):
        return v
    if isinstance(v, float):
        if not math.isfinite(v):
            raise UsageError(f"`{where}`: {v} cannot be recorded (not finite)")
        return v
    if isinstance(v, Symbol):
        return {"name": v.name}
    if isinstance(v, tuple):
        return {"tuple": [_encode(x, where, depth + 1) for x in v]}
    raise UsageError(f"`{where}`: a {type(v).__name__} value cannot be recorded in a run")


def _decode(v: Any, file: str, where: str) -> Any:
    if isinstance(v, dict):
        if set(v) == {"name"}:
            return Symbol(v["name"])
        if set(v) == {"tuple"}:
            return tuple(_decode(x, file, f"{where}[{i}]") for i, x in enumerate(v["tuple"]))
    return v   # a scalar: the schema checked it


def _value(depth: int = 0):
    """Schema of one encoded value (bounded depth, finite numbers)."""
    def check(v: Any, where: str, file: str) -> None:
        if isinstance(v, (bool, int)) or (isinstance(v, float) and math.isfinite(v)):
            return
        if isinstance(v, str) and len(v) <= 4096 and "\x00" not in v:
            return
        if depth < MAX_VALUE_DEPTH and isinstance(v, dict) and len(v) == 1:
            if "name" in v and isinstance(v["name"], str) and v["name"].isidentifier():
                return
            if "tuple" in v and isinstance(v["tuple"], list) and len(v["tuple"]) <= 4096:
                for i, x in enumerate(v["tuple"]):
                    _value(depth + 1)(x, f"{where}[{i}]", file)
                return
        raise ManifestError(file, where, "must be a number, true/false, a label, "
                            '{"name": NAME} or {"tuple": [...]}', v)
    check.expected = "a recorded value"  # type: ignore[attr-defined]
    return check


def _digest(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _spec_text(v: dict[str, Any]) -> SpecText:
    return SpecText(v["name"], v["text"])


_SPEC_TEXT = Obj({"name": Str(max_len=4096), "text": Str(max_len=MAX_SPEC_BYTES)})
SCHEMA = Obj({
    "format": Int(FORMAT, FORMAT), "kind": Str(KINDS), "name": Str(max_len=256),
    "spec": _SPEC_TEXT, "space": Null(_SPEC_TEXT), "overrides": Map(_value()),
    "input_size": Null(List(Int(1, 1 << 20), 1, 3)), "decided": Map(_value()),
    "params": Map(Str()), "genotype_hash": Str(max_len=64),
    "fingerprint": Str(max_len=64),
})

_COMPILED: Lru[str, Compiled] = Lru(COMPILES_KEPT)

__all__ = ["NetworkArtifact", "SpecText", "ArtifactError", "NETWORK", "FORMAT",
           "MAX_ARTIFACT_BYTES", "read_artifact", "write_artifact", "compile_files",
           "network_record"]
