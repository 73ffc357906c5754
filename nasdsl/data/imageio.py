"""Read and write images with their geometry: NIfTI (nibabel), MetaImage/NRRD and DICOM
series (SimpleITK), PNG (Pillow), TIFF (tifffile). No hand-written parsers.

`read_image` always returns a channel-first array `C x spatial` (voxel order x, y, z; see
geometry.py). `write_image` takes `spatial` (one channel) or `C x spatial`, told apart by
the geometry's number of axes, and writes atomically (temp file, then os.replace).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from nasdsl.data.admit import admit_dir, admit_file
from nasdsl.data.errors import DataError
from nasdsl.data.geometry import Geometry
from nasdsl.data.headers import (check_2d, check_geometry, check_itk, check_itk_data_file,
                                 check_nifti)
from nasdsl.spec_files import printable

NIFTI = (".nii.gz", ".nii")
ITK = (".mhd", ".mha", ".nrrd", ".nhdr")
PNG = (".png",)
TIFF = (".tif", ".tiff")
IMAGE_SUFFIXES = NIFTI + ITK + PNG + TIFF + (".dcm",)


def suffix_of(path: str | Path) -> str:
    """The image format suffix (`.nii.gz` counts as one)."""
    name = Path(path).name.lower()
    for s in IMAGE_SUFFIXES:
        if name.endswith(s):
            return s
    return Path(path).suffix.lower()


def read_image(path: str | Path, root: str | Path | None = None
               ) -> tuple[np.ndarray, Geometry]:
    """Read an image file or a DICOM series folder as (C x spatial array, geometry).

    `root` is the folder the file came in (a dataset's root; default: the file's own
    folder): the file, and any data file its header names, must lie inside it (admit.py).
    Declared sizes and geometry are checked from the header before pixels are read."""
    p = Path(path)
    base = Path(root) if root is not None else (p.parent if not p.is_dir() else p)
    if p.is_dir():
        from nasdsl.data.dicom import read_dicom_series

        admit_dir(p, base)
        return read_dicom_series(p, root=base)
    reader = _READERS.get(suffix_of(p))
    if reader is None:
        if not os.path.lexists(p):
            raise DataError(p, "no such file")
        raise DataError(p, f"unsupported image format `{suffix_of(p) or p.name}` "
                           f"(supported: {', '.join(IMAGE_SUFFIXES)}, DICOM folders)")
    admit_file(p, base)
    try:
        array, geom = reader(p, base)
    except DataError:
        raise
    except MemoryError:
        raise DataError(p, "not enough memory to read this image (see NASDSL_MAX_VOXELS "
                           "in docs/DATA.md)") from None
    except Exception as err:  # noqa: BLE001 - any reader failure is a bad file to the user
        raise DataError(p, f"unreadable or truncated image ({type(err).__name__}: "
                           f"{_short(err)})") from None
    check_geometry(p, geom)
    if not np.all(np.isfinite(array)):
        raise DataError(p, "image holds NaN or infinite values")
    return array, geom


def _short(err: Exception) -> str:
    text = " ".join(str(err).split())
    return printable(text[:200] + ("..." if len(text) > 200 else ""))


def _read_nifti(p: Path, root: Path) -> tuple[np.ndarray, Geometry]:
    import nibabel as nib

    img = nib.load(str(p))
    check_nifti(p, img)
    geom = Geometry.from_affine_ras(img.header.get_best_affine())
    check_geometry(p, geom)
    data = np.asarray(img.dataobj)
    if data.ndim == 4:                     # MSD: channels on the fourth axis
        data = np.moveaxis(data, 3, 0)
    elif data.ndim == 3:
        data = data[None]
    elif data.ndim == 2:
        data = data[None, :, :, None]
    else:
        raise DataError(p, f"expected a 3D or 4D NIfTI image, found {data.ndim}D "
                           f"shape {data.shape}")
    return data, geom


def _read_itk(p: Path, root: Path) -> tuple[np.ndarray, Geometry]:
    import SimpleITK as sitk

    check_itk_data_file(p, root)
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(p))
    reader.ReadImageInformation()
    check_itk(p, reader)
    return from_sitk(reader.Execute())


def from_sitk(img: "object") -> tuple[np.ndarray, Geometry]:
    """A SimpleITK image (any reader's) as (channels-first array, geometry)."""
    import SimpleITK as sitk

    arr = sitk.GetArrayFromImage(img)       # (z, y, x[, components])
    n = img.GetDimension()
    comps = img.GetNumberOfComponentsPerPixel()
    arr = arr if comps > 1 else arr[..., None]
    arr = np.moveaxis(arr, -1, 0)           # (C, z, y, x)
    arr = np.transpose(arr, (0,) + tuple(range(n, 0, -1)))
    geom = Geometry(tuple(img.GetSpacing()), tuple(img.GetOrigin()), tuple(img.GetDirection()))
    return np.ascontiguousarray(arr), geom


def _read_png(p: Path, root: Path) -> tuple[np.ndarray, Geometry]:
    from PIL import Image

    # NOTE: our bound (check_2d, NASDSL_MAX_VOXELS) replaces Pillow's own guard (a warning
    # at 89 M pixels, an error at 179 M), so one documented limit decides
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        img = Image.open(p)                 # lazy: the header only
    finally:
        Image.MAX_IMAGE_PIXELS = saved
    with img:
        check_2d(p, img.size, len(img.getbands()))
        img.load()
        if img.mode == "P":
            arr = np.asarray(img)           # palette masks: the indices are the labels
        elif img.mode in ("RGBA", "LA"):
            arr = np.asarray(img.convert("RGB" if img.mode == "RGBA" else "L"))
        else:
            arr = np.asarray(img)
    return _from_2d(arr)


def _read_tiff(p: Path, root: Path) -> tuple[np.ndarray, Geometry]:
    import tifffile

    with tifffile.TiffFile(str(p)) as tif:  # the page index, no pixel data yet
        if not tif.series:
            raise DataError(p, "TIFF file holds no image")
        series = tif.series[0]
        shape = tuple(int(s) for s in series.shape)
        samples = shape[2] if len(shape) == 3 and shape[2] <= 4 else 1
        check_2d(p, shape[:2] if samples > 1 else shape, samples)
        if len(shape) == 3 and shape[-1] > 4:
            raise DataError(p, f"expected a 2D TIFF (rows x cols [x samples]), found shape "
                               f"{shape}")
        arr = series.asarray()
    return _from_2d(arr)


def _from_2d(arr: np.ndarray) -> tuple[np.ndarray, Geometry]:
    """(rows, cols[, samples]) -> (C, x, y): x = column, as MONAI's PIL reader does."""
    arr = arr[..., None] if arr.ndim == 2 else arr
    if arr.ndim != 3:
        raise ValueError(f"expected a 2D image, found shape {arr.shape}")
    arr = np.transpose(arr, (2, 1, 0))
    return np.ascontiguousarray(arr), Geometry.identity((1.0, 1.0))


def _read_dcm_file(p: Path, root: Path) -> tuple[np.ndarray, Geometry]:
    from nasdsl.data.dicom import read_dicom_series

    return read_dicom_series(p.parent, only=p, root=root)


_READERS: dict[str, Callable[[Path, Path], tuple[np.ndarray, Geometry]]] = {
    **{s: _read_nifti for s in NIFTI}, **{s: _read_itk for s in ITK},
    **{s: _read_png for s in PNG}, **{s: _read_tiff for s in TIFF}, ".dcm": _read_dcm_file,
}


def write_image(path: str | Path, array: np.ndarray, geometry: Geometry) -> Path:
    """Write `array` (spatial, or C x spatial) with `geometry`; the format follows the suffix."""
    p = Path(path)
    arr = _compact(np.asarray(array))
    if arr.ndim == geometry.ndim + 1:
        channels = arr
    elif arr.ndim == geometry.ndim:
        channels = arr[None]
    else:
        raise ValueError(f"array of shape {arr.shape} does not fit a {geometry.ndim}D geometry")
    suffix = suffix_of(p)
    writer = _WRITERS.get(suffix)
    if writer is None:
        raise DataError(p, f"cannot write format `{suffix}` (use .nii.gz, .mhd, .nrrd, .png, .tif)")
    p.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(dir=p.parent, prefix=f".{p.name}."))
    try:
        writer(tmpdir / p.name, channels, geometry)
        # NOTE: .mhd has a .raw companion; move it first so the header never dangles.
        for f in sorted(tmpdir.iterdir(), key=lambda f: f.name == p.name):
            os.replace(f, p.parent / f.name)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return p


def _compact(arr: np.ndarray) -> np.ndarray:
    """Label maps in the smallest integer type that holds them (int64 NIfTI is deprecated
    in nibabel and unreadable by some tools)."""
    if arr.dtype == bool:
        return arr.astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer) and arr.dtype.itemsize > 4:
        lo, hi = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
        for t in (np.uint8, np.int16, np.int32):
            if np.iinfo(t).min <= lo and hi <= np.iinfo(t).max:
                return arr.astype(t)
        raise ValueError(f"integer values {lo}..{hi} do not fit 32 bits")
    return arr


def _write_nifti(p: Path, channels: np.ndarray, geom: Geometry) -> None:
    import nibabel as nib

    data = channels[0] if channels.shape[0] == 1 else np.moveaxis(channels, 0, -1)
    if geom.ndim == 2:
        data = data[:, :, None] if data.ndim == 2 else data[:, :, None, :]
    img = nib.Nifti1Image(np.ascontiguousarray(data), geom.affine_ras())
    img.set_qform(geom.affine_ras(), code=1)
    img.set_sform(geom.affine_ras(), code=1)
    nib.save(img, str(p))


def _write_itk(p: Path, channels: np.ndarray, geom: Geometry) -> None:
    import SimpleITK as sitk

    n = geom.ndim
    arr = np.transpose(channels, (0,) + tuple(range(n, 0, -1)))   # (C, z, y, x)
    vector = channels.shape[0] > 1
    img = sitk.GetImageFromArray(np.moveaxis(arr, 0, -1) if vector else arr[0], isVector=vector)
    img.SetSpacing(geom.spacing)
    img.SetOrigin(geom.origin)
    img.SetDirection(geom.direction)
    sitk.WriteImage(img, str(p), useCompression=p.suffix.lower() != ".mhd")


def _to_2d_rows(channels: np.ndarray) -> np.ndarray:
    arr = np.transpose(channels, (2, 1, 0))       # back to (rows, cols, C)
    return arr[..., 0] if arr.shape[-1] == 1 else arr


def _write_png(p: Path, channels: np.ndarray, geom: Geometry) -> None:
    from PIL import Image

    if geom.ndim != 2:
        raise DataError(p, "PNG holds 2D images only; write 3D volumes as .nii.gz or .mhd")
    arr = _to_2d_rows(channels)
    if arr.dtype != np.uint8:
        arr = arr.astype(np.uint16 if arr.max() > 255 else np.uint8)
    Image.fromarray(arr).save(p)


def _write_tiff(p: Path, channels: np.ndarray, geom: Geometry) -> None:
    import tifffile

    if geom.ndim != 2:
        raise DataError(p, "TIFF output holds 2D images only; write 3D as .nii.gz or .mhd")
    tifffile.imwrite(str(p), _to_2d_rows(channels))


_WRITERS: dict[str, Callable[[Path, np.ndarray, Geometry], None]] = {
    **{s: _write_nifti for s in NIFTI}, **{s: _write_itk for s in (".mhd", ".mha", ".nrrd")},
    **{s: _write_png for s in PNG}, **{s: _write_tiff for s in TIFF},
}
