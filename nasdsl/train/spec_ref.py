"""How a run names its network: RUN/network.json (nasdsl.artifact), and provenance.

A training run records its network once, at its start, as a fingerprinted artifact that
embeds the spec's text; every later stage rebuilds the network from it (`run_artifact`),
so an edited, moved or deleted spec file changes nothing about a run that exists, and a
resumed run continues the network it started with. The manifest's `spec` section keeps
where that text came from (paths, file hashes, the `-D` strings as typed): provenance
for a person, never read back to build anything.

Runs made before network.json existed (their manifest has no `network` section) are
rebuilt from the recorded spec path once per process, with the old checks (the files
must still have the hashes the run recorded); `nasdsl train --resume` then writes their
network.json, so from there on they are like any other run.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Mapping, Sequence

from nasdsl.api import UsageError, parse_override
from nasdsl.artifact import (NETWORK, NetworkArtifact, compile_files, network_record,
                             read_artifact)
from nasdsl.runs import RunDir, file_hash


def parse_defines(defines: Sequence[str]) -> dict[str, Any]:
    """`-D` strings as typed values: parsed once, when a run starts."""
    return dict(parse_override(d) for d in defines)


def artifact_of_spec(path: str, defines: Sequence[str]) -> NetworkArtifact:
    """The network a new run records: the user's spec read and compiled now."""
    return compile_files(path, parse_defines(defines))


def spec_record(path: str, defines: Sequence[str], artifact: NetworkArtifact) -> dict[str, Any]:
    """Provenance: where the run's spec came from (hashes of the embedded texts, which
    are the files' contents when the run started)."""
    space = artifact.space or artifact.spec
    return {"path": str(Path(path).resolve()), "defines": list(defines),
            "file_hash": _text_hash(artifact.spec.text),
            "space_path": str(Path(space.name).resolve()),
            "space_hash": _text_hash(space.text),
            "genotype_hash": artifact.genotype_hash, "name": artifact.name}


def run_artifact(run: RunDir, manifest: Mapping[str, Any]) -> NetworkArtifact:
    """The network of a training run (its manifest schema-checked by the caller)."""
    network = manifest.get("network")
    if network is None:
        return legacy_artifact(manifest["spec"])
    return read_artifact(run.path, network["fingerprint"])


def legacy_artifact(record: Mapping[str, Any]) -> NetworkArtifact:
    """A run from before network.json: its spec files, refused by name when they changed
    or vanished since training (only such runs read a spec path after their start)."""
    for key, hkey in (("path", "file_hash"), ("space_path", "space_hash")):
        p = Path(record[key])
        if not p.is_file():
            raise UsageError(f"{p}: the spec this run was trained from is gone (the run "
                             f"predates {NETWORK}, which would hold a copy)")
        if file_hash(p) != record[hkey]:
            raise UsageError(f"{p}: changed since this run was trained (hash "
                             f"{file_hash(p)}, recorded {record[hkey]}; the run predates "
                             f"{NETWORK}, which would hold a copy)")
    artifact = artifact_of_spec(record["path"], record["defines"])
    if artifact.genotype_hash != record["genotype_hash"]:
        raise UsageError(f"{record['path']}: compiles to another network than the run's "
                         f"(genotype hash {artifact.genotype_hash}, recorded "
                         f"{record['genotype_hash']})")
    return artifact


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


__all__ = ["parse_defines", "artifact_of_spec", "spec_record", "network_record",
           "run_artifact", "legacy_artifact"]
