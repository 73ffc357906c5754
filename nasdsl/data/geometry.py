"""Where an image sits in space: spacing, origin and direction per spatial axis.

Arrays are indexed in ITK/NIfTI voxel order (i, j, k) = (x, y, z), as nibabel and MONAI
do, so the last axis of a 3D volume is the through-plane (depth) axis, as the `.nas`
specs write sizes (H, W, D). Origin and direction are in LPS (ITK/DICOM convention);
`affine_ras` converts to the NIfTI convention.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


@dataclass(frozen=True)
class Geometry:
    """Spacing (mm), origin (LPS, mm) and direction cosines (row-major, LPS) of an image."""
    spacing: tuple[float, ...]
    origin: tuple[float, ...]
    direction: tuple[float, ...]

    @property
    def ndim(self) -> int:
        return len(self.spacing)

    @classmethod
    def identity(cls, spacing: tuple[float, ...]) -> "Geometry":
        n = len(spacing)
        return cls(tuple(float(s) for s in spacing), (0.0,) * n,
                   tuple(float(v) for v in np.eye(n).ravel()))

    def with_spacing(self, spacing: tuple[float, ...]) -> "Geometry":
        return Geometry(tuple(float(s) for s in spacing), self.origin, self.direction)

    def affine_ras(self) -> np.ndarray:
        """The 4x4 NIfTI affine (voxel -> RAS mm); 2D geometries get a unit third axis."""
        n = self.ndim
        m = np.eye(4)
        d = np.asarray(self.direction, float).reshape(n, n)
        m[:n, :n] = d * np.asarray(self.spacing, float)[None, :]
        m[:n, 3] = self.origin
        return _LPS_TO_RAS @ m

    @classmethod
    def from_affine_ras(cls, affine: np.ndarray, ndim: int = 3) -> "Geometry":
        m = _LPS_TO_RAS @ np.asarray(affine, float)
        cols = m[:3, :3]
        spacing = np.linalg.norm(cols, axis=0)
        spacing[spacing == 0] = 1.0
        direction = cols / spacing[None, :]
        g = cls(tuple(float(s) for s in spacing), tuple(float(o) for o in m[:3, 3]),
                tuple(float(v) for v in direction.ravel()))
        return g if ndim == 3 else g.restrict(ndim)

    def restrict(self, ndim: int) -> "Geometry":
        """The first `ndim` axes (a 2D image read from a 3D container)."""
        d = np.asarray(self.direction, float).reshape(self.ndim, self.ndim)[:ndim, :ndim]
        return Geometry(self.spacing[:ndim], self.origin[:ndim],
                        tuple(float(v) for v in d.ravel()))

    def matches(self, other: "Geometry", tol: float = 1e-3) -> bool:
        """Same grid in space, to `tol` relative (spacing) / mm (origin) / cosine."""
        if self.ndim != other.ndim:
            return False
        s, o = np.asarray(self.spacing), np.asarray(other.spacing)
        return (np.allclose(s, o, rtol=tol, atol=0)
                and np.allclose(self.origin, other.origin, atol=max(tol, tol * s.max()))
                and np.allclose(self.direction, other.direction, atol=tol))

    def to_dict(self) -> dict[str, Any]:
        return {"spacing": list(self.spacing), "origin": list(self.origin),
                "direction": list(self.direction)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Geometry":
        return cls(tuple(d["spacing"]), tuple(d["origin"]), tuple(d["direction"]))
