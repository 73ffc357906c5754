"""The five engines: their settings with the published defaults (each with its source),
and each engine's own checks.

Every engine starts from its own authors' values, never from another engine's block:
DARTS as the NAS-Unet authors search it (tianbaochou/NasUnet,
configs/nas_unet/nas_unet_promise12.yml and experiment/search_cell.py), PC-DARTS as
yuhuixu1993/PC-DARTS train_search.py (CIFAR), ProxylessNAS as mit-han-lab/proxylessnas
search/ (imagenet_arch_search.py), ENAS as RONASMIS (Bae et al. 2019) with carpedm20/
ENAS-pytorch where the paper is silent. Values marked "ours" have no published source;
docs/ENGINES.md says why each was chosen. Batch size is a memory setting: the authors'
batches (NAS-Unet 20, PC-DARTS 256, ProxylessNAS 256) are for their GPUs and image sizes.
"""

from __future__ import annotations

from typing import Any

from nasdsl.enginespec import checks
from nasdsl.enginespec.schema import EngineSpec, Setting

NASUNET = "NAS-Unet authors (nas_unet_promise12.yml)"
PCDARTS = "PC-DARTS train_search.py (CIFAR)"
PROXYLESS = "ProxylessNAS search/ (imagenet_arch_search.py)"
RONASMIS = "RONASMIS (Bae et al. 2019)"
CARPEDM20 = "carpedm20/ENAS-pytorch"
ENAS_TF = "ENAS (melodyguan/enas: 50 controller updates of 20 samples per epoch)"
OURS_BATCH = "ours: 2 patches fit a laptop; the authors' batches are for their GPUs"


def _s(name: str, type_: str, default: Any, source: str, lo=None, hi=None, choices=(),
       doc: str = "", scale: tuple[str, int] | None = None) -> Setting:
    return Setting(name, type_, default, source, lo, hi, tuple(choices), doc, scale)


def _run(epochs: int, epochs_src: str, val_src: str, clip: float, clip_src: str
         ) -> tuple[Setting, ...]:
    """What every engine reads: the loop and the data."""
    return (
        _s("epochs", "int", epochs, epochs_src, 1, 100_000, doc="search epochs"),
        _s("batch_size", "int", 2, OURS_BATCH, 1, 4096, doc="minibatch size"),
        _s("steps_per_epoch", "int", 0, "ours", 0, 10_000_000,
           doc="0 = one pass over the train split"),
        _s("seed", "int", 0, "ours", 0, 2**31 - 1),
        _s("val_fraction", "float", 0.5, val_src, 0.05, 0.95,
           doc="share of the cases held out for the architecture phase (rounded to "
               "whole cases; the count is printed)"),
        _s("grad_clip", "float", clip, clip_src, 0.0, 1e6, doc="0 = no clipping"),
    )


def _weights(lr: float, momentum: float | None, decay: float, src: str,
             momentum_src: str | None = None) -> tuple[Setting, ...]:
    out = [_s("weight_lr", "float", lr, src, 0.0, 10.0, doc="cosine-annealed")]
    if momentum is not None:
        out.append(_s("weight_momentum", "float", momentum, momentum_src or src, 0.0, 1.0,
                      doc="SGD"))
    out.append(_s("weight_decay", "float", decay, src, 0.0, 1.0))
    return tuple(out)


def _arch(lr: float, beta1: float, decay: float, warmup: int, of: int, patience: int,
          src: str, beta_src: str | None = None, warm_src: str | None = None
          ) -> tuple[Setting, ...]:
    return (
        _s("arch_lr", "float", lr, src, 0.0, 10.0, doc="Adam"),
        _s("arch_beta1", "float", beta1, beta_src or src, 0.0, 0.999,
           doc="Adam beta1 (beta2 = 0.999)"),
        _s("arch_weight_decay", "float", decay, src, 0.0, 1.0),
        _s("warmup_epochs", "int", warmup, warm_src or src, 0, 100_000, scale=("epochs", of),
           doc=f"weights only for the first epochs ({warmup} of {of}; scaled with `epochs` "
               "unless given)"),
        _s("patience", "int", patience, src + " (max_patience)" if patience else
           "ours (the authors stop at `epochs`)", 0, 100_000,
           doc="stop when the derived genotype is unchanged this many epochs after the "
               "warm-up (0 = never)"),
    )


def _derive(source: str) -> Setting:
    return _s("derive", "choice", "nas_unet", source, choices=("nas_unet", "darts"),
              doc="how a cell node ranks its edges: nas_unet scales an edge's best "
                  "weight by |its op set| / |the node's largest| (the NAS-Unet authors' "
                  "GenoParser); darts leaves it unscaled. Equal where a node's op sets "
                  "have one size")


_DERIVE_SRC = NASUNET.split(" (")[0] + " (util/genotype.py GenoParser)"
_ADAM = ("{engine} trains the shared weights with Adam, which has no momentum")
_NO_ARCH = ("{engine} has no architecture parameters (it samples architectures)")


def _not_here(engine: str, *groups: tuple[tuple[str, ...], str]) -> dict[str, str]:
    return {name: why.format(engine=engine) for names, why in groups for name in names}


_ARCH_NAMES = ("arch_lr", "arch_beta1", "arch_weight_decay", "warmup_epochs", "patience")

DARTS = EngineSpec(
    "darts", ("op", "inputs"),
    _run(300, NASUNET, NASUNET, 5.0, NASUNET)
    + _weights(0.025, 0.0, 3e-4, NASUNET, NASUNET + ": SGD given lr and weight_decay "
               "only, so torch's momentum 0")
    + _arch(3e-4, 0.9, 5e-3, 10, 300, 40, NASUNET, NASUNET + ": Adam given lr and "
            "weight_decay only, so torch's betas (0.9, 0.999)", NASUNET + " (alpha_begin)")
    + (_derive(_DERIVE_SRC),),
    "first-order DARTS: every candidate of every edge runs, weighted by softmax(alpha)",
    shares_weights=True,
    not_here={},
    setting_checks=(checks.arch_steps_run, checks.patience_can_stop),
    space_checks=(checks.derive_rule_matters,))

PC_DARTS = EngineSpec(
    "pc_darts", ("op", "inputs"),
    _run(50, PCDARTS, PCDARTS, 5.0, PCDARTS)
    + _weights(0.1, 0.9, 3e-4, PCDARTS)
    + _arch(6e-4, 0.5, 1e-3, 15, 50, 0, PCDARTS)
    + (_s("k", "int", 4, PCDARTS, 1, 64, doc="1/k of the channels go through the mixed op"),
       _derive(_DERIVE_SRC + "; PC-DARTS's own rule where a node's op sets have one size"),
       ),
    "PC-DARTS: partial channels with shuffle, edge normalisation, beta*alpha derivation",
    shares_weights=False,
    not_here={},
    setting_checks=(checks.arch_steps_run, checks.patience_can_stop),
    space_checks=(checks.partial_channels, checks.derive_rule_matters))

PROXYLESS_NAS = EngineSpec(
    "proxyless", ("op", "inputs"),
    _run(160, PROXYLESS + ": 40 warm-up + 120 search epochs", "ours", 5.0, "ours")
    + _weights(0.025, 0.9, 4e-5, PROXYLESS, PROXYLESS + " (Nesterov momentum 0.9)")
    + _arch(1e-3, 0.0, 0.0, 40, 160, 0, PROXYLESS)
    + (_s("mode", "choice", "full_v2", PROXYLESS, choices=("two", "full_v2"),
          doc="full_v2: one path, gate gradients recomputed; two: two sampled paths"),
       _s("arch_every", "int", 5, PROXYLESS, 1, 10_000,
          doc="weight steps per architecture step"),
       _s("cost", "choice", "params", "ours (the authors' latency LUT has no analogue "
          "here)", choices=("params", "flops"),
          doc="the metric of the expected-cost term; needs `constraint <metric> <= N`"),
       _s("cost_weight", "float", 0.1, PROXYLESS + " (add#linear lambda)", 0.0, 1e6,
          doc="lambda of (E[cost] - N) / N, N the spec's budget"),
       _derive(_DERIVE_SRC + "; ProxylessNAS derives per layer, no cell nodes")),
    "ProxylessNAS: binary gates over sampled paths, expected-cost term",
    shares_weights=True,
    not_here={},
    setting_checks=(checks.arch_steps_run, checks.patience_can_stop),
    space_checks=(checks.cost_has_budget, checks.derive_rule_matters))

ENAS = EngineSpec(
    "enas", ("op", "inputs", "structural"),
    _run(150, RONASMIS + " (150-500 controller epochs)", "ours", 5.0, "ENAS (clip 5)")
    + _weights(1e-3, None, 1e-4, RONASMIS + " (Adam)")
    + (_s("children_per_episode", "int", 20, RONASMIS + "; ENAS: 20 samples per update",
          1, 10_000, doc="children sampled per controller update"),
       _s("child_epochs", "int", 3, RONASMIS, 1, 10_000),
       _s("controller_lr", "float", 1e-3, RONASMIS + " (Adam)", 0.0, 10.0),
       _s("controller_steps", "int", 50, ENAS_TF + " (RONASMIS does not say)", 1, 10_000,
          doc="controller updates per episode"),
       _s("derive_samples", "int", 100, CARPEDM20 + " (derive: best of 100 samples)", 1,
          100_000, doc="architectures sampled at the end; the best on the fixed "
                       "validation subset is derived"),
       _s("derive_batches", "int", 4, "ours (ENAS-pytorch scores on one validation batch)",
          1, 10_000, doc="validation batches of the fixed subset that scores samples"),
       _s("entropy_weight", "float", 1e-4, RONASMIS, 0.0, 10.0),
       _s("lstm_size", "int", 100, CARPEDM20, 4, 4096),
       _s("lstm_layers", "int", 2, "RONASMIS re-implementation (2 x 100 LSTM)", 1, 8),
       _s("baseline_decay", "float", 0.95, CARPEDM20, 0.0, 1.0),
       _s("temperature", "float", 5.0, CARPEDM20, 0.0, 1e6, doc="0 = none"),
       _s("tanh_constant", "float", 2.5, CARPEDM20, 0.0, 1e6, doc="0 = none"),
       _s("first_child_max", "bool", True, RONASMIS,
          doc="the first child is the largest one (confirms memory)")),
    "ENAS: LSTM controller over the whole decision table, REINFORCE, shared weights",
    shares_weights=True,
    not_here=_not_here("enas", (("weight_momentum",), _ADAM), (_ARCH_NAMES, _NO_ARCH)))

RANDOM = EngineSpec(
    "random", ("op", "inputs", "structural"),
    _run(50, "ours", "ours", 5.0, "ours")
    + _weights(1e-3, None, 1e-4, "ours: ENAS's shared-weight training, so the two compare")
    + (_s("samples", "int", 100, "ours (Li & Talwalkar 2019 score 1000)", 1, 1_000_000,
          doc="architectures drawn at the end, scored on the fixed validation subset"),
       _s("rerank", "int", 10, "ours", 1, 100_000,
          doc="best-scored samples re-evaluated on the whole validation split"),
       _s("derive_batches", "int", 4, "ours", 1, 10_000,
          doc="validation batches of the fixed subset that scores the samples"),
       _s("child_epochs", "int", 1, "ours", 0, 10_000,
          doc="shared-weight epochs per sample")),
    "random search over the decision table, within the spec's constraints",
    shares_weights=True,
    not_here=_not_here("random", (("weight_momentum",), _ADAM), (_ARCH_NAMES, _NO_ARCH)))

ENGINES: dict[str, EngineSpec] = {e.name: e for e in (DARTS, PC_DARTS, PROXYLESS_NAS, ENAS,
                                                      RANDOM)}

# Settings that once existed: a spec that still has one is told what became of it.
REMOVED = {
    "retrain": "removed: train the derived genotype from scratch with `nasdsl train "
               "RUN/genotype.nas` (`nasdsl run` does it in its train stage)",
    "order": "removed: the engines are first-order, as the NAS-Unet and PC-DARTS authors "
             "search; second-order DARTS is not implemented",
    "arch_start_epoch": "renamed `warmup_epochs` (weights only for the first epochs)",
}
