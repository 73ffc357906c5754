"""A real-MRI brain-tissue task from the MNI ICBM152 2009 template that nilearn ships
inside its package (T1 and gray/white-matter probability maps; no download).

Every case is the same brain, deformed and re-imaged deterministically: a random affine
(rotation, scaling, translation) and a smooth elastic displacement, resampled onto a grid
of its own spacing (some cases anisotropic), then a bias field, gamma, contrast and noise.
Labels: 0 background (incl. CSF), 1 gray matter, 2 white matter = the argmax of
(1 - gm - wm, gm, wm) inside the brain, computed from the warped probability maps.
Honest but limited: one subject's anatomy, so it measures fitting and robustness to
geometry/intensity changes, not generalisation across people.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from scipy import ndimage

from nasdsl.data.errors import DataError
from nasdsl.data.geometry import Geometry
from nasdsl.data.msdwriter import MsdWriter

LABELS = {"0": "background", "1": "gray_matter", "2": "white_matter"}
DESCRIPTION = ("Derived from ONE template (MNI ICBM152 2009c nonlinear symmetric, as "
               "packaged by nilearn): cases differ by random affine + elastic deformation, "
               "resolution, bias field, gamma and noise. Labels from the template's GM/WM "
               "probability maps. An honest but limited benchmark: no anatomical variation "
               "between subjects.")


@dataclass(frozen=True)
class Template:
    t1: np.ndarray          # 1 mm, scaled to [0, 1], zero outside the brain
    gm: np.ndarray
    wm: np.ndarray
    geometry: Geometry


def load_template() -> Template:
    """The nilearn-packaged template (files inside the installed package, read offline)."""
    try:
        from nilearn.datasets import (load_mni152_gm_template, load_mni152_template,
                                      load_mni152_wm_template)
    except ImportError as err:
        raise DataError("nilearn", f"the MNI task needs nilearn ({err})") from None
    t1 = load_mni152_template(resolution=1)
    gm, wm = load_mni152_gm_template(resolution=1), load_mni152_wm_template(resolution=1)
    geom = Geometry.from_affine_ras(t1.affine)
    return Template(*(np.asarray(i.get_fdata(), np.float32) for i in (t1, gm, wm)), geom)


def make_mni_dataset(out: str | Path, cases: int = 12, tests: int = 4, seed: int = 0,
                     resolution: float = 2.0, dims: int = 3,
                     progress: Callable[[int, int], None] | None = None) -> Path:
    """Write the task in the MSD layout. resolution: in-plane mm (larger = smaller volumes);
    every third case is anisotropic (1.75 x coarser through-plane). dims=2 writes the
    central axial slice of each case instead of the volume."""
    tpl = load_template()
    smoothed: dict[tuple[float, ...], Template] = {}
    writer = MsdWriter(out, {
        "name": "mni_brain_tissue", "description": DESCRIPTION, "tensorImageSize": "3D",
        "modality": {"0": "T1"}, "labels": LABELS,
        "reference": "MNI ICBM152 2009 template via nilearn (Fonov et al. 2009, 2011)",
        "licence": "ICBM 2009 template: free use with attribution (McConnell Brain Imaging "
                   "Centre); see nilearn's documentation"})
    for k in range(cases + tests):
        rng = np.random.default_rng([seed, k])
        aniso = k % 3 == 2
        spacing = (resolution, resolution, resolution * (1.75 if aniso else 1.0))
        if spacing not in smoothed:             # anti-aliasing, once per grid spacing
            smoothed[spacing] = _smooth(tpl, spacing)
        image, label = make_case(smoothed[spacing], rng, spacing)
        geom = tpl.geometry.with_spacing(spacing)
        if dims == 2:
            z = label.shape[2] // 2 + int(rng.integers(-2, 3))
            image, label = image[:, :, z:z + 1], label[:, :, z:z + 1]
        writer.add(f"mni_{k:03d}", image, label, geom, test=k >= cases)
        if progress:
            progress(k + 1, cases + tests)
    return writer.finish()


def make_case(tpl: Template, rng: np.random.Generator, spacing: tuple[float, ...]
              ) -> tuple[np.ndarray, np.ndarray]:
    """One deformed, re-imaged case on a grid of `spacing` mm covering the template."""
    src_spacing = np.asarray(tpl.geometry.spacing)
    extent = np.asarray(tpl.t1.shape) * src_spacing
    shape = tuple(int(np.ceil(e / s)) for e, s in zip(extent, spacing))
    coords = _source_coords(shape, np.asarray(spacing), extent, src_spacing, rng)
    t1, gm, wm = (ndimage.map_coordinates(v, coords, order=1, mode="constant", cval=0.0)
                  for v in (tpl.t1, tpl.gm, tpl.wm))
    brain = t1 > 0.02
    tissue = np.stack([1.0 - gm - wm, gm, wm])
    label = np.where(brain, np.argmax(tissue, 0), 0).astype(np.uint8)
    return _reimage(t1 * brain, rng).astype(np.float32), label


def _smooth(tpl: Template, spacing: tuple[float, ...]) -> Template:
    """Gaussian anti-aliasing before sampling the 1 mm template on a coarser grid."""
    sigma = [max(0.0, (s / ss - 1) / 2) for s, ss in zip(spacing, tpl.geometry.spacing)]
    t1, gm, wm = (ndimage.gaussian_filter(v, sigma, truncate=3.0)
                  for v in (tpl.t1, tpl.gm, tpl.wm))
    return Template(t1, gm, wm, tpl.geometry)


def _source_coords(shape: tuple[int, ...], spacing: np.ndarray, extent: np.ndarray,
                   src_spacing: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Template voxel coordinates for every output voxel: random affine about the centre
    plus a smooth displacement (coarse random field, cubic upsampled)."""
    grid = np.stack(np.meshgrid(*[(np.arange(n) + 0.5) * s for n, s in zip(shape, spacing)],
                                indexing="ij")).reshape(3, -1)
    centre = extent[:, None] / 2
    angles = np.radians(rng.uniform(-10, 10, 3))
    matrix = _rotation(angles) @ np.diag(rng.uniform(0.9, 1.1, 3))
    mm = matrix @ (grid - centre) + centre + rng.uniform(-6, 6, (3, 1))
    coarse = rng.normal(0, 3.0, (3, 5, 6, 5))                      # mm, 5x6x5 control grid
    disp = np.stack([ndimage.zoom(c, np.asarray(shape) / np.asarray(c.shape), order=3)
                     [: shape[0], : shape[1], : shape[2]] for c in coarse]).reshape(3, -1)
    return ((mm + disp) / src_spacing[:, None] - 0.5).reshape((3,) + shape)


def _rotation(a: np.ndarray) -> np.ndarray:
    cx, cy, cz, sx, sy, sz = *np.cos(a), *np.sin(a)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def _reimage(t1: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Scanner-like intensity changes: bias field, gamma, contrast scale, Rician-ish noise
    (kept zero outside the head, as the skull-stripped template is)."""
    axes = np.meshgrid(*[np.linspace(-0.5, 0.5, n) for n in t1.shape], indexing="ij")
    field = np.exp(sum(rng.uniform(-0.3, 0.3) * u + rng.uniform(-0.3, 0.3) * u ** 2
                       for u in axes))
    img = np.clip(t1, 0, None) ** rng.uniform(0.8, 1.25) * field * rng.uniform(500, 1500)
    noise = rng.normal(0, 0.03, (2,) + t1.shape) * img.max()
    noisy = np.sqrt((img + noise[0]) ** 2 + noise[1] ** 2)
    return np.where(t1 > 0, noisy, 0.0)
