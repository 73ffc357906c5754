"""Training augmentation from MONAI transforms, in nnU-Net's spirit: rotation and scaling
(one affine), optional elastic deformation, Gaussian noise, bias field, gamma, flips.
Reseeded per sample by the caller, so a sample depends only on (seed, epoch, index)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges; nnU-Net defaults where it has them."""
    p_affine: float = 0.2
    rotation_deg: float = 15.0           # per axis, in-plane only for 2D
    scale: tuple[float, float] = (0.7, 1.4)
    p_elastic: float = 0.0               # off by default (nnU-Net v2 also disables it)
    p_noise: float = 0.1
    noise_std: float = 0.1
    p_bias: float = 0.1
    p_gamma: float = 0.3
    gamma: tuple[float, float] = (0.7, 1.5)
    p_flip: float = 0.5                  # per axis


def build_augment(dims: int, cfg: AugmentConfig = AugmentConfig(),
                  anisotropic: bool = False) -> "object":
    """A MONAI Compose over {"image", "label"} arrays (C x spatial); `anisotropic`
    limits 3D rotation to the plane of the first two axes.

    NOTE: switches MONAI's MetaTensor tracking off for the process (set_track_meta):
    patches need no metadata, and tracking it makes each transform several times slower.
    """
    from monai import transforms as T
    from monai.data import set_track_meta

    set_track_meta(False)

    keys = ("image", "label")
    rot = math.radians(cfg.rotation_deg)
    # nnU-Net: anisotropic volumes rotate in-plane only (about the last, coarse axis)
    rotate = (rot,) if dims == 2 else ((0.0, 0.0, rot) if anisotropic else (rot,) * 3)
    scale = (cfg.scale[0] - 1.0, cfg.scale[1] - 1.0)
    steps: list[object] = [
        T.RandAffined(keys, prob=cfg.p_affine, rotate_range=rotate, scale_range=(scale,) * dims,
                      mode=("bilinear", "nearest"), padding_mode="zeros"),
    ]
    if cfg.p_elastic > 0:
        elastic = T.Rand3DElasticd if dims == 3 else T.Rand2DElasticd
        kwargs = ({"sigma_range": (9.0, 13.0), "magnitude_range": (0.0, 200.0)} if dims == 3
                  else {"spacing": (20, 20), "magnitude_range": (0.0, 2.0)})
        steps.append(elastic(keys, prob=cfg.p_elastic, mode=("bilinear", "nearest"),
                             padding_mode="zeros", **kwargs))
    steps += [
        T.RandGaussianNoised("image", prob=cfg.p_noise, std=cfg.noise_std),
        T.RandBiasFieldd("image", prob=cfg.p_bias, coeff_range=(0.0, 0.1)),
        T.RandAdjustContrastd("image", prob=cfg.p_gamma, gamma=cfg.gamma, retain_stats=True),
    ]
    steps += [T.RandFlipd(keys, prob=cfg.p_flip, spatial_axis=a) for a in range(dims)]
    return T.Compose(steps)


def apply_augment(compose: "object", image: np.ndarray, label: np.ndarray, seed: int
                  ) -> "tuple[torch.Tensor, torch.Tensor]":
    """Run `compose` with its random state set from `seed`; plain tensors out."""
    import torch

    compose.set_random_state(seed=seed % (2 ** 32))  # type: ignore[attr-defined]
    out = compose({"image": torch.from_numpy(image), "label": torch.from_numpy(label).float()})
    img = torch.as_tensor(out["image"]).as_subclass(torch.Tensor).float().contiguous()
    lab = torch.as_tensor(out["label"]).as_subclass(torch.Tensor).round().long().contiguous()
    return img, lab
