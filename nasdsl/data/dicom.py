"""DICOM series: pydicom checks each file (so a bad one is named), SimpleITK/GDCM
assembles the volume with its geometry (slice order, spacing, direction)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nasdsl.data.errors import DataError
from nasdsl.data.geometry import Geometry


def dicom_files(folder: Path) -> list[Path]:
    """Files of a series folder (hidden files and DICOMDIR aside)."""
    return sorted(f for f in folder.iterdir()
                  if f.is_file() and not f.name.startswith(".") and f.name != "DICOMDIR")


def is_dicom(path: Path) -> bool:
    """Cheap test: `.dcm` suffix or the DICM magic after the 128-byte preamble."""
    if path.suffix.lower() == ".dcm":
        return True
    try:
        with open(path, "rb") as f:
            f.seek(128)
            return f.read(4) == b"DICM"
    except OSError:
        return False


def series_modality(folder: Path, root: Path | None = None) -> str:
    """The Modality tag (CT, MR, ...) of the first file, '' when absent."""
    import pydicom

    from nasdsl.data.admit import admit_file

    files = dicom_files(folder)
    if not files:
        return ""
    admit_file(files[0], root if root is not None else folder)
    ds = pydicom.dcmread(str(files[0]), stop_before_pixels=True, force=True)
    return str(getattr(ds, "Modality", "") or "")


def _declared_voxels(path: Path, root: Path) -> int:
    """Admit the file inside `root` and bound what its header declares, pixels unread."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    from nasdsl.data.admit import admit_file
    from nasdsl.data.headers import dicom_voxels

    admit_file(path, root)
    try:
        ds = pydicom.dcmread(str(path), stop_before_pixels=True)
    except InvalidDicomError:
        raise DataError(path, "not a DICOM file (no DICM header)") from None
    except Exception as err:  # noqa: BLE001
        raise DataError(path, f"unreadable DICOM header ({type(err).__name__}: "
                              f"{' '.join(str(err).split())[:160]})") from None
    return dicom_voxels(path, ds)


def _check_file(path: Path) -> None:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(str(path))
        if "PixelData" not in ds:
            raise DataError(path, "DICOM file has no pixel data")
        ds.pixel_array  # noqa: B018 - decodes, so truncated pixel data is caught here
    except DataError:
        raise
    except InvalidDicomError:
        raise DataError(path, "not a DICOM file (no DICM header)") from None
    except Exception as err:  # noqa: BLE001
        raise DataError(path, f"unreadable or truncated DICOM file ({type(err).__name__}: "
                              f"{' '.join(str(err).split())[:160]})") from None


def read_dicom_series(folder: Path, only: Path | None = None, root: Path | None = None
                      ) -> tuple[np.ndarray, Geometry]:
    """Read the one series in `folder` (or the single file `only`) as (1 x X x Y x Z,
    geometry); every file must lie inside `root` (default: `folder`), and the series'
    declared size is bounded before any pixel data is decoded."""
    import SimpleITK as sitk

    from nasdsl.data.imageio import from_sitk
    from nasdsl.data.limits import check_voxels

    files = [only] if only is not None else dicom_files(folder)
    if not files:
        raise DataError(folder, "no DICOM files in this folder")
    base = root if root is not None else folder
    total = sum(_declared_voxels(f, base) for f in files)
    check_voxels(folder, (total,), 1, "declares a series of", spatial_dims=3)
    for f in files:
        _check_file(f)
    if only is not None:
        return from_sitk(sitk.ReadImage(str(only)))
    reader = sitk.ImageSeriesReader()
    ids = reader.GetGDCMSeriesIDs(str(folder))
    if len(ids) != 1:
        raise DataError(folder, f"expected one DICOM series per folder, found {len(ids)}")
    names = reader.GetGDCMSeriesFileNames(str(folder), ids[0])
    if len(names) != len(files):
        raise DataError(folder, f"{len(files) - len(names)} of {len(files)} files do not "
                                "belong to the series")
    reader.SetFileNames(names)
    try:
        return from_sitk(reader.Execute())
    except Exception as err:  # noqa: BLE001
        raise DataError(folder, f"cannot assemble the DICOM series ({_first_line(err)})") from None


def _first_line(err: Exception) -> str:
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    return lines[-1][:160] if lines else type(err).__name__
