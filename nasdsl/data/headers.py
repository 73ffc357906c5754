"""What an image file declares, checked before its pixels are read.

Each format's own header reader gives the declared size (nibabel's header, SimpleITK's
ReadImageInformation, Pillow's lazy open, tifffile's page index, pydicom without pixel
data); the size is bounded (limits.py) and the geometry must be finite with positive
spacing before any pixel array exists. Two things the libraries would follow blindly are
checked here: an MHD/NRRD header naming its data file (it must be admitted inside the
dataset like any other file), and a gzip stream shorter than its header declares (found
by streaming it through a fixed buffer, so a 72-byte file declaring 1.6 GB costs nothing).
"""

from __future__ import annotations

import gzip
import math
import re
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np

from nasdsl.data.admit import admit_file, read_head
from nasdsl.data.errors import DataError
from nasdsl.data.geometry import Geometry
from nasdsl.data.limits import check_voxels, shape_text
from nasdsl.spec_files import printable

_HEADER_BYTES = 1 << 16              # an MHD/NHDR text header; real ones are < 1 KB
_CHUNK = 1 << 20


def check_geometry(path: str | Path, geom: Geometry) -> None:
    """Spacing finite and positive, origin and direction finite (a NaN pixdim, a zero
    spacing or an infinite origin would poison resampling and every output written)."""
    for k, s in enumerate(geom.spacing):
        if not math.isfinite(s) or s <= 0:
            raise DataError(path, f"spacing of axis {k} is {s!r} in its header (must be a "
                                  "finite positive number of mm)")
    if not all(math.isfinite(v) for v in geom.origin):
        raise DataError(path, f"origin {list(geom.origin)} in its header is not finite")
    if not all(math.isfinite(v) for v in geom.direction):
        raise DataError(path, "direction cosines in its header are not finite")


# ---- NIfTI --------------------------------------------------------------------------------
def check_nifti(path: Path, img: object) -> None:
    """A nibabel image (header read, no data yet): finite pixdim, bounded shape, and a data
    section as long as declared."""
    header = img.header  # type: ignore[attr-defined]
    shape = tuple(int(s) for s in img.shape)  # type: ignore[attr-defined]
    pixdim = [float(v) for v in header["pixdim"][1:1 + min(len(shape), 3)]]
    for k, v in enumerate(pixdim):
        if not math.isfinite(v):
            raise DataError(path, f"pixdim[{k + 1}] is {v!r} in its NIfTI header (voxel "
                                  "size must be a finite number of mm)")
    if not np.all(np.isfinite(header.get_best_affine())):
        raise DataError(path, "the affine (qform/sform) in its NIfTI header is not finite")
    spatial, channels = shape[:3], math.prod(shape[3:]) if len(shape) > 3 else 1
    check_voxels(path, spatial, channels)
    dtype = header.get_data_dtype()
    offset = int(img.dataobj.offset)  # type: ignore[attr-defined]
    need = offset + math.prod(shape) * dtype.itemsize
    if str(path).lower().endswith(".gz"):
        have = _gzip_length_up_to(path, need)
    else:
        have = Path(path).stat().st_size
    if have < need:
        raise DataError(path, f"is truncated: its header declares {shape_text(shape)} "
                              f"{dtype} ({need:,} bytes with the header), the file holds "
                              f"{have:,}")


def _gzip_length_up_to(path: Path, need: int) -> int:
    """Decompressed length of a gzip file, counted up to `need` through a fixed buffer."""
    got = 0
    try:
        with gzip.open(path, "rb") as f:
            while got < need:
                chunk = f.read(min(_CHUNK, need - got))
                if not chunk:
                    break
                got += len(chunk)
    except EOFError:
        return got                        # cut short inside the stream: truncated
    except (OSError, zlib.error) as err:
        raise DataError(path, f"damaged gzip stream ({err})") from None
    return got


# ---- MetaImage / NRRD ----------------------------------------------------------------------
_MHD_DATA = re.compile(rb"^\s*ElementDataFile\s*=\s*(.*?)\s*$", re.I | re.M)
_NRRD_DATA = re.compile(rb"^\s*data ?file\s*:\s*(.*?)\s*$", re.I | re.M)


def check_itk_data_file(path: Path, root: Path) -> None:
    """An .mhd/.nhdr (or .nrrd/.mha with a detached file) names its pixel file: it must be
    one file, admitted inside `root` (not /etc/passwd, not a FIFO, not /dev/zero)."""
    suffix = path.name.lower().rsplit(".", 1)[-1]
    pattern = _NRRD_DATA if suffix in ("nrrd", "nhdr") else _MHD_DATA
    head = read_head(path, root, _HEADER_BYTES)
    m = pattern.search(head)
    if m is None:
        if suffix in ("mhd", "nhdr"):
            raise DataError(path, "header names no data file (ElementDataFile / data file)")
        return
    name = m.group(1).decode("utf-8", "replace")
    key = "ElementDataFile" if pattern is _MHD_DATA else "data file"
    if name.upper() == "LOCAL":
        return
    if name.upper().startswith("LIST") or "%" in name:
        raise DataError(path, f"{key} `{name}`: nasdsl reads one data file per header "
                              "(file lists and patterns are not supported)")
    try:
        admit_file(path.parent / name, root)
    except DataError as err:
        raise DataError(path, f"{key} `{printable(name)}`: {err.what}") from None


def itk_geometry(reader: object) -> Geometry:
    return Geometry(tuple(reader.GetSpacing()), tuple(reader.GetOrigin()),  # type: ignore
                    tuple(reader.GetDirection()))  # type: ignore[attr-defined]


def check_itk(path: Path, reader: object) -> None:
    """After ReadImageInformation: bounded size, sane geometry."""
    size = tuple(int(s) for s in reader.GetSize())  # type: ignore[attr-defined]
    comps = int(reader.GetNumberOfComponents())  # type: ignore[attr-defined]
    check_voxels(path, size, comps)
    check_geometry(path, itk_geometry(reader))


# ---- 2D: PNG, TIFF ------------------------------------------------------------------------
def check_2d(path: Path, shape: Sequence[int], samples: int = 1) -> None:
    check_voxels(path, shape, samples)


# ---- DICOM --------------------------------------------------------------------------------
def dicom_voxels(path: Path, ds: object) -> int:
    """Voxels a DICOM file declares (rows x columns x frames x samples), from its header."""
    try:
        rows = int(getattr(ds, "Rows", 0) or 0)
        cols = int(getattr(ds, "Columns", 0) or 0)
        frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
        samples = int(getattr(ds, "SamplesPerPixel", 1) or 1)
    except (TypeError, ValueError) as err:
        raise DataError(path, f"unreadable image size in its DICOM header ({err})") from None
    if min(rows, cols, frames, samples) < 0:
        raise DataError(path, "negative image size in its DICOM header")
    check_voxels(path, (cols, rows, frames), samples)
    return rows * cols * frames * samples


__all__ = ["check_geometry", "check_nifti", "check_itk_data_file", "check_itk", "check_2d",
           "dicom_voxels", "itk_geometry"]
