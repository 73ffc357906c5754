"""Hostile datasets and images (issue 15 rows 3 and 5), built small on the fly.

Every builder takes an empty folder `tmp`, writes a dataset under `tmp/data` (and, where
the case reaches outside, a secret under `tmp/outside`) and returns a `Hostile`: the path
to hand to the command and the words the error must contain (the file and the field).
Sizes are *declared*, never written: sparse files, headers that lie, gzip members
repeated; the largest file on disk is ~1 MB.
"""

from __future__ import annotations

import gzip
import json
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from data_fixtures import write_nifti

SECRET = "root:x:0:0:SECRET-OUTSIDE-THE-DATASET"


@dataclass
class Hostile:
    data: Path                               # the dataset folder (or image) to pass
    expect: tuple[str, ...]                  # substrings of the error message
    image: Path | None = None                # the hostile image itself (for `infer`)
    env: dict[str, str] = field(default_factory=dict)


def _outside(tmp: Path) -> Path:
    out = tmp / "outside"
    out.mkdir(exist_ok=True)
    (out / "secret.txt").write_text(SECRET + "\n")
    img, lab = np.zeros((8, 8, 4), np.float32), np.zeros((8, 8, 4), np.uint8)
    img[2:6, 2:6, 1:3] = 5
    lab[3:5, 3:5, 1:3] = 1
    write_nifti(out / "secret.nii.gz", img)
    write_nifti(out / "secret_label.nii.gz", lab)
    return out


def _tiny_case(root: Path, name: str, spacing=(1.0, 1.0, 1.0), shape=(16, 16, 1)) -> None:
    img = np.zeros(shape, np.float32)
    lab = np.zeros(shape, np.uint8)
    img[3:-3, 3:-3] = np.random.default_rng(len(name)).normal(100, 10, img[3:-3, 3:-3].shape)
    lab[5:-5, 5:-5] = 1
    write_nifti(root / "imagesTr" / f"{name}.nii.gz", img, spacing)
    write_nifti(root / "labelsTr" / f"{name}.nii.gz", lab, spacing)


def _msd(root: Path, training: list[dict], labels=None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    meta = {"name": "hostile", "modality": {"0": "MR"},
            "labels": labels or {"0": "background", "1": "organ"},
            "numTraining": len(training), "training": training, "test": []}
    (root / "dataset.json").write_text(json.dumps(meta))
    return root


def _entry(name: str) -> dict:
    return {"image": f"./imagesTr/{name}.nii.gz", "label": f"./labelsTr/{name}.nii.gz"}


def _valid_msd(root: Path, n: int = 3) -> Path:
    for k in range(n):
        _tiny_case(root, f"case_{k}")
    return _msd(root, [_entry(f"case_{k}") for k in range(n)])


# ---- row 3: reads outside the dataset ------------------------------------------------------
def dotdot_entry(tmp: Path) -> Hostile:
    _outside(tmp)
    root = _valid_msd(tmp / "data")
    meta = json.loads((root / "dataset.json").read_text())
    meta["training"][0] = {"image": "../outside/secret.nii.gz",
                           "label": "../outside/secret_label.nii.gz"}
    (root / "dataset.json").write_text(json.dumps(meta))
    return Hostile(root, ("dataset.json", "../outside/secret.nii.gz", "outside the folder"))


def absolute_entry(tmp: Path) -> Hostile:
    out = _outside(tmp)
    root = _valid_msd(tmp / "data")
    meta = json.loads((root / "dataset.json").read_text())
    meta["training"][1]["image"] = str(out / "secret.nii.gz")
    (root / "dataset.json").write_text(json.dumps(meta))
    return Hostile(root, ("dataset.json", "absolute path", "secret.nii.gz"))


def symlinked_image(tmp: Path) -> Hostile:
    out = _outside(tmp)
    root = _valid_msd(tmp / "data")
    link = root / "imagesTr" / "case_0.nii.gz"
    link.unlink()
    link.symlink_to(out / "secret.nii.gz")
    return Hostile(root, ("case_0.nii.gz", "outside the folder"))


def symlinked_label_folder(tmp: Path) -> Hostile:
    """nnU-Net layout whose labelsTr/ is a link to a folder elsewhere."""
    out = _outside(tmp)
    root = tmp / "data"
    write_nifti(root / "imagesTr" / "secret_0000.nii.gz", np.ones((8, 8, 4), np.float32))
    (out / "labels").mkdir()
    write_nifti(out / "labels" / "secret.nii.gz", np.zeros((8, 8, 4), np.uint8))
    (root / "labelsTr").symlink_to(out / "labels")
    (root / "dataset.json").write_text(json.dumps({
        "channel_names": {"0": "MR"}, "labels": {"background": 0, "a": 1},
        "numTraining": 1, "file_ending": ".nii.gz"}))
    return Hostile(root, ("secret.nii.gz", "outside the folder"))


def dataset_json_link(tmp: Path) -> Hostile:
    _outside(tmp)
    root = _valid_msd(tmp / "data")
    (root / "dataset.json").unlink()
    (root / "dataset.json").symlink_to(tmp / "outside" / "secret.txt")
    return Hostile(root, ("dataset.json", "outside the folder"))


def dataset_json_fifo(tmp: Path) -> Hostile:
    root = _valid_msd(tmp / "data")
    (root / "dataset.json").unlink()
    os.mkfifo(root / "dataset.json")
    return Hostile(root, ("dataset.json", "not a regular file"))


def _mhd(path: Path, dims: tuple[int, ...], data_file: str, *, spacing=None,
         element="MET_UCHAR") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sp = spacing or (1.0,) * len(dims)
    path.write_text("ObjectType = Image\n"
                    f"NDims = {len(dims)}\n"
                    "BinaryData = True\nBinaryDataByteOrderMSB = False\n"
                    "CompressedData = False\n"
                    f"ElementSpacing = {' '.join(map(str, sp))}\n"
                    f"DimSize = {' '.join(map(str, dims))}\n"
                    f"ElementType = {element}\n"
                    f"ElementDataFile = {data_file}\n")


def _mhd_pair(root: Path, dims=(32, 32, 2)) -> None:
    """A valid labelled MHD case, so the dataset is more than its hostile member."""
    n = int(np.prod(dims))
    for stem in ("Case01", "Case01_segmentation"):
        (root / f"{stem}.raw").parent.mkdir(parents=True, exist_ok=True)
        (root / f"{stem}.raw").write_bytes(bytes(n))
        _mhd(root / f"{stem}.mhd", dims, f"{stem}.raw")


def mhd_passwd(tmp: Path) -> Hostile:
    """The issue's case: `data inspect` printed /etc/passwd's byte histogram."""
    root = tmp / "data"
    _mhd(root / "Case00.mhd", (32, 32), "/etc/passwd")
    _mhd(root / "Case00_segmentation.mhd", (32, 32), "/etc/passwd")
    return Hostile(root, ("Case00.mhd", "ElementDataFile", "/etc/passwd", "outside"),
                   image=root / "Case00.mhd")


def mhd_relative_escape(tmp: Path) -> Hostile:
    _outside(tmp)
    root = tmp / "data"
    _mhd_pair(root)
    _mhd(root / "Case00.mhd", (8, 8), "../outside/secret.txt")
    _mhd(root / "Case00_segmentation.mhd", (8, 8), "../outside/secret.txt")
    return Hostile(root, ("Case00.mhd", "ElementDataFile", "secret.txt", "outside"),
                   image=root / "Case00.mhd")


def mhd_fifo(tmp: Path) -> Hostile:
    """The data file is a FIFO: the reader blocked forever."""
    root = tmp / "data"
    _mhd_pair(root)
    os.mkfifo(root / "Case00.raw")
    _mhd(root / "Case00.mhd", (32, 32, 2), "Case00.raw")
    _mhd(root / "Case00_segmentation.mhd", (32, 32, 2), "Case01_segmentation.raw")
    return Hostile(root, ("Case00.raw", "not a regular file"), image=root / "Case00.mhd")


def mhd_dev_zero(tmp: Path) -> Hostile:
    """A 20000^2 image on /dev/zero (through a link inside the dataset)."""
    root = tmp / "data"
    (root).mkdir(parents=True)
    (root / "Case00.raw").symlink_to("/dev/zero")
    _mhd(root / "Case00.mhd", (20000, 20000), "Case00.raw")
    _mhd(root / "Case00_segmentation.mhd", (20000, 20000), "Case00.raw")
    return Hostile(root, ("Case00.raw", "outside"), image=root / "Case00.mhd")


# ---- row 5: memory from tiny files ---------------------------------------------------------
def _nifti_header(shape: tuple[int, ...], dtype=np.float32, pixdim=None) -> bytes:
    import nibabel as nib

    hdr = nib.Nifti1Header()
    hdr.set_data_dtype(dtype)
    hdr.set_data_shape(shape)
    hdr.set_zooms(pixdim or (1.0,) * len(shape))
    hdr.set_qform(np.eye(4), code=1)
    hdr.set_sform(np.eye(4), code=1)
    return hdr.binaryblock + b"\0" * 4          # vox_offset 352


def _lying_case(root: Path, image_bytes: bytes) -> Path:
    _valid_msd(root)
    path = root / "imagesTr" / "case_0.nii.gz"
    path.write_bytes(image_bytes)
    return path


def nifti_declares_1_6gb(tmp: Path) -> Hostile:
    """~72 bytes on disk, 1024x1024x400 float32 (1.6 GB) declared."""
    blob = gzip.compress(_nifti_header((1024, 1024, 400)), 9)
    path = _lying_case(tmp / "data", blob)
    return Hostile(tmp / "data", ("case_0.nii.gz", "1024x1024x400", "NASDSL_MAX_VOXELS"),
                   image=path)


def nifti_truncated_big(tmp: Path) -> Hostile:
    """Within the voxel limit (512^3 int16, 268 MB) but holding no data: truncation is
    found by streaming the gzip, before any array is allocated."""
    blob = gzip.compress(_nifti_header((512, 512, 512), np.int16), 9)
    path = _lying_case(tmp / "data", blob)
    return Hostile(tmp / "data", ("case_0.nii.gz", "is truncated", "512x512x512"), image=path)


def gzip_bomb(tmp: Path) -> Hostile:
    """~1 MB: one 16 MiB gzip member of zeros repeated 64 times = 1 GiB of 1000^3 uint8."""
    member = gzip.compress(bytes(16 << 20), 9)
    header = gzip.compress(_nifti_header((1000, 1000, 1000), np.uint8), 9)
    path = _lying_case(tmp / "data", header + member * 64)
    return Hostile(tmp / "data", ("case_0.nii.gz", "1000x1000x1000", "NASDSL_MAX_VOXELS"),
                   image=path)


def nan_pixdim(tmp: Path) -> Hostile:
    import nibabel as nib

    root = _valid_msd(tmp / "data")
    path = root / "imagesTr" / "case_1.nii.gz"
    img = nib.load(str(path))
    data = np.asarray(img.dataobj)
    hdr = img.header.copy()
    hdr["pixdim"][1] = np.nan
    hdr.set_qform(None, code=0)
    hdr.set_sform(None, code=0)
    nib.save(nib.Nifti1Image(data, None, hdr), str(path))
    return Hostile(root, ("case_1.nii.gz", "pixdim[1]", "nan"), image=path)


def mhd_zero_spacing(tmp: Path) -> Hostile:
    root = tmp / "data"
    _mhd_pair(root)
    (root / "Case00.raw").write_bytes(bytes(32 * 32 * 2))
    _mhd(root / "Case00.mhd", (32, 32, 2), "Case00.raw", spacing=(0.0, 1.0, 1.0))
    _mhd(root / "Case00_segmentation.mhd", (32, 32, 2), "Case00.raw", spacing=(0.0, 1.0, 1.0))
    return Hostile(root, ("Case00.mhd", "spacing of axis 0"), image=root / "Case00.mhd")


def mhd_declares_huge(tmp: Path) -> Hostile:
    """1000^3 declared over a sparse (empty) data file inside the dataset."""
    root = tmp / "data"
    _mhd_pair(root)
    with open(root / "Case00.raw", "wb") as f:
        f.truncate(10 ** 9)
    _mhd(root / "Case00.mhd", (1000, 1000, 1000), "Case00.raw")
    _mhd(root / "Case00_segmentation.mhd", (1000, 1000, 1000), "Case00.raw")
    return Hostile(root, ("Case00.mhd", "1000x1000x1000", "NASDSL_MAX_VOXELS"),
                   image=root / "Case00.mhd")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def _lying_png(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    idat = zlib.compress(bytes(width + 1) * 4)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b""))


def _pairs(root: Path, image_name: str, image_bytes: bytes | None) -> Path:
    from PIL import Image

    for d in ("images", "masks"):
        (root / d).mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(root / "masks" / image_name)
    path = root / "images" / image_name
    if image_bytes is not None:
        path.write_bytes(image_bytes)
    return path


def png_144mpx(tmp: Path) -> Hostile:
    path = _pairs(tmp / "data", "a.png", _lying_png(12000, 12000))
    return Hostile(tmp / "data", ("a.png", "12000x12000"), image=path)


def tiff_30000(tmp: Path) -> Hostile:
    import tifffile

    path = _pairs(tmp / "data", "a.tif", None)
    tifffile.imwrite(str(path), shape=(30000, 30000), dtype="uint8")   # sparse on disk
    return Hostile(tmp / "data", ("a.tif", "30000x30000", "NASDSL_MAX_VOXELS"), image=path)


def negative_label(tmp: Path) -> Hostile:
    root = _valid_msd(tmp / "data")
    meta = json.loads((root / "dataset.json").read_text())
    meta["labels"] = {"0": "background", "-1": "organ"}
    (root / "dataset.json").write_text(json.dumps(meta))
    return Hostile(root, ("dataset.json", "label `organ` has the value -1"))


def bad_entry_type(tmp: Path) -> Hostile:
    root = _valid_msd(tmp / "data")
    meta = json.loads((root / "dataset.json").read_text())
    meta["training"][0]["image"] = {"$ref": "/etc/passwd"}
    (root / "dataset.json").write_text(json.dumps(meta))
    return Hostile(root, ("dataset.json", "not a file path"))


def dicom_declares_huge(tmp: Path) -> Hostile:
    """One slice of a DICOM series claims 65535 x 65535 x 1000 frames (4.3 T voxels)."""
    import pydicom

    from data_fixtures import dicom_series

    root = tmp / "data"
    dicom_series(root / "case1" / "image", np.zeros((8, 8, 3), np.uint16))
    write_nifti(root / "case1" / "mask.nii.gz", np.zeros((8, 8, 3), np.uint8))
    first = sorted((root / "case1" / "image").iterdir())[0]
    ds = pydicom.dcmread(str(first))
    ds.Rows, ds.Columns, ds.NumberOfFrames = 65535, 65535, 1000
    ds.save_as(first)
    return Hostile(root, (first.name, "65535x65535x1000", "NASDSL_MAX_VOXELS"))


def dicom_link_out(tmp: Path) -> Hostile:
    """A DICOM series whose first slice is a link to a DICOM file outside the dataset."""
    from data_fixtures import dicom_series

    out = _outside(tmp)
    root = tmp / "data"
    dicom_series(root / "case1" / "image", np.zeros((8, 8, 3), np.uint16))
    dicom_series(out / "series", np.ones((8, 8, 3), np.uint16))
    write_nifti(root / "case1" / "mask.nii.gz", np.zeros((8, 8, 3), np.uint8))
    first = sorted((root / "case1" / "image").iterdir())[0]
    first.unlink()
    first.symlink_to(sorted((out / "series").iterdir())[0])
    return Hostile(root, (first.name, "outside the folder"))


DATASETS: dict[str, Callable[[Path], Hostile]] = {
    f.__name__: f for f in (
        dotdot_entry, absolute_entry, symlinked_image, symlinked_label_folder,
        dataset_json_link, dataset_json_fifo, mhd_passwd, mhd_relative_escape, mhd_fifo,
        mhd_dev_zero, nifti_declares_1_6gb, nifti_truncated_big, gzip_bomb, nan_pixdim,
        mhd_zero_spacing, mhd_declares_huge, png_144mpx, tiff_30000, negative_label,
        bad_entry_type, dicom_declares_huge, dicom_link_out)
}

# Hostile single images for `infer` (each builder's `image`).
IMAGES = [name for name in DATASETS if name in {
    "mhd_passwd", "mhd_relative_escape", "mhd_fifo", "mhd_dev_zero", "nifti_declares_1_6gb",
    "nifti_truncated_big", "gzip_bomb", "nan_pixdim", "mhd_zero_spacing",
    "mhd_declares_huge", "png_144mpx", "tiff_30000"}]


def resample_300mm(tmp: Path) -> Hostile:
    """A 2D dataset of 1 mm slices, one of which claims 300 mm pixels: resampling it to
    the 1 mm target would make a 9600x9600 image (220 s, then an allocation failure)."""
    root = tmp / "data"
    names = [f"case_{k}" for k in range(4)]
    for k, name in enumerate(names):
        _tiny_case(root, name, (300.0, 300.0, 1.0) if k == 3 else (1.0, 1.0, 1.0),
                   shape=(32, 32, 1))
    _msd(root, [_entry(n) for n in names])
    return Hostile(root, ("case_3", "NASDSL_MAX_UPSAMPLE", "300x300 mm"),
                   image=root / "imagesTr" / "case_3.nii.gz")
