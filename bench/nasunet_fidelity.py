"""NAS-Unet fidelity: our NAS_UNET_V2 against the authors' own code, same weights.

    python bench/nasunet_fidelity.py PATH/TO/NasUnet [--sizes 256 100 97x131] [--json out]

PATH is a checkout of tianbaochou/NasUnet (not part of this repository; nothing from it
is copied here). The authors' NasUnet is built at the PROMISE12 configuration (C=32,
depth 5, M=3, 1 input channel, 2 classes, genotype NAS_UNET_V2), its state dict is
mapped key by key onto ours, both run in eval mode on the same inputs, and the largest
absolute difference is reported for `-D up=authors` (their function) and for the
default (exact 2H up edges, our documented deviation). Imports their network code does
not use at run time (cv2, torchvision, graphviz) are stubbed if missing.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import types
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nasdsl.api import compile_spec  # noqa: E402
from nasdsl.backends.onnx_export import load_emitted  # noqa: E402
from nasdsl.backends.torch_src import emit_torch  # noqa: E402

GENOTYPE = ROOT / "specs" / "genotypes" / "nas_unet_v2.nas"


class _Stub(types.ModuleType):
    """A module whose every attribute is a do-nothing callable (unused at run time)."""

    __path__: list[str] = []

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda *a, **k: None


def _import_authors(checkout: Path):
    for name in ("cv2", "graphviz", "torchvision", "torchvision.utils"):
        try:
            importlib.import_module(name)
        except ImportError:
            sys.modules[name] = _Stub(name)
    # their package __init__ files import every dataset and model: load submodules only
    for pkg in ("util", "models"):
        module = types.ModuleType(pkg)
        module.__path__ = [str(checkout / pkg)]  # type: ignore[attr-defined]
        sys.modules[pkg] = module
    sys.path.insert(0, str(checkout))
    nas_unet = importlib.import_module("models.nas_unet")
    genotypes = importlib.import_module("models.geno_searched")
    return nas_unet.NasUnet, genotypes.NAS_UNET_V2


def _theirs(checkout: Path) -> tuple[torch.nn.Module, object]:
    NasUnet, genotype = _import_authors(checkout)
    torch.manual_seed(0)
    model = NasUnet(2, 1, c=32, depth=5, genotype=genotype, dropout_prob=0,
                    double_down_channel=False)
    return model.eval(), genotype


def _ours(overrides: dict) -> torch.nn.Module:
    c = compile_spec(str(GENOTYPE), overrides)
    return load_emitted(emit_torch(c)).Model().eval()


def _label(index: int) -> str:
    """The authors' state index: 0 = s0 (our p0), 1 = s1 (p1), k = node k-2."""
    return {0: "p0", 1: "p1"}.get(index, f"n_{index - 2}")


def our_key(key: str, genotype) -> str | None:
    """Their state-dict key -> ours; None for the head's GroupNorm their forward skips."""
    parts = key.split(".")
    if parts[0] in ("stem0", "stem1"):
        return f"enc_{parts[0][-1]}." + ".".join(parts[1:])
    if parts[0] == "nas_unet_head":
        return None if parts[1] == "norm" else "y." + ".".join(parts[1:])
    cell = int(parts[1])
    prefix = f"enc_{cell + 2}" if parts[0] == "down_cells" else f"dec_{cell}"
    if parts[2].startswith("preprocess"):
        return f"{prefix}.p{parts[2][-1]}." + ".".join(parts[3:])
    k = int(parts[3])
    edges = genotype.down if parts[0] == "down_cells" else genotype.up
    rest = ".".join(parts[4:])
    if rest.startswith("fc."):
        rest = "gate." + rest
    return f"{prefix}.n_{k // 2}.{_label(edges[k][1])}.{rest}"


def load_their_weights(ours: torch.nn.Module, theirs: torch.nn.Module, genotype) -> dict:
    state = ours.state_dict()
    mapped, skipped = {}, []
    for key, value in theirs.state_dict().items():
        target = our_key(key, genotype)
        if target is None:
            skipped.append(key)
            continue
        if target not in state or state[target].shape != value.shape:
            raise SystemExit(f"no match for their `{key}` (tried `{target}`)")
        mapped[target] = value
    missing = set(state) - set(mapped)
    if missing:
        raise SystemExit(f"ours has weights theirs lacks: {sorted(missing)[:5]}")
    ours.load_state_dict(mapped)
    return {"mapped": len(mapped), "skipped": skipped}


def _size(text: str) -> tuple[int, int]:
    parts = [int(p) for p in text.lower().split("x")]
    return (parts[0], parts[-1])


def compare(checkout: Path, sizes: list[str]) -> dict:
    theirs, genotype = _theirs(checkout)
    # random GroupNorm scales and shifts too, so no affine parameter is a no-op
    with torch.no_grad():
        for p in theirs.parameters():
            p.add_(0.1 * torch.randn_like(p))
    report: dict = {"params_theirs": sum(p.numel() for p in theirs.parameters())}
    for mode in ("authors", "exact"):
        ours = _ours({"up": mode} if mode == "authors" else {})
        info = load_their_weights(ours, theirs, genotype)
        report["params_ours"] = sum(p.numel() for p in ours.parameters())
        report["skipped"] = info["skipped"]
        for text in sizes:
            h, w = _size(text)
            x = torch.randn(2, 1, h, w, generator=torch.Generator().manual_seed(h * w))
            with torch.no_grad():
                want = theirs(x)[0]
                try:
                    got = ours(x)
                except Exception as exc:   # the exact-2H model refuses odd sizes
                    report[f"{mode}@{text}"] = f"fails: {type(exc).__name__}"
                    continue
            if got.shape != want.shape:
                report[f"{mode}@{text}"] = f"shape {tuple(got.shape)} vs {tuple(want.shape)}"
                continue
            diff = (got - want).abs().max().item()
            report[f"{mode}@{text}"] = {"max_abs_diff": diff,
                                        "bit_identical": bool(torch.equal(got, want))}
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkout", type=Path, help="a checkout of tianbaochou/NasUnet")
    ap.add_argument("--sizes", nargs="+", default=["256", "160x192", "100", "97x131"])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if not (args.checkout / "models" / "nas_unet.py").is_file():
        raise SystemExit(f"{args.checkout}: not a NasUnet checkout (models/nas_unet.py)")
    torch.set_num_threads(2)
    report = compare(args.checkout, args.sizes)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
