"""Tiny datasets on disk for the data tests, written with the libraries directly (not
with nasdsl's writer), so the readers are checked against independent files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def write_nifti(path: Path, data: np.ndarray, spacing=(1.0, 1.0, 1.0), origin=(0, 0, 0)) -> None:
    import nibabel as nib

    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = origin
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, affine), str(path))


def volume(rng: np.random.Generator, shape=(12, 10, 6)) -> tuple[np.ndarray, np.ndarray]:
    """A float image, zero at the border, and a 3-class label inside it."""
    image = np.zeros(shape, np.float32)
    image[2:-2, 2:-2, 1:-1] = rng.normal(100, 10, (shape[0] - 4, shape[1] - 4, shape[2] - 2))
    label = np.zeros(shape, np.uint8)
    label[4:8, 4:7, 2:4] = 1
    label[5:7, 5:6, 2:3] = 2
    return image, label


def msd(root: Path, cases: int = 3, channels: int = 1, spacing=(0.8, 0.8, 2.5)) -> Path:
    rng = np.random.default_rng(0)
    training = []
    for k in range(cases):
        image, label = volume(rng)
        if channels > 1:
            image = np.stack([image * (c + 1) for c in range(channels)], -1)
        write_nifti(root / "imagesTr" / f"case_{k}.nii.gz", image, spacing)
        write_nifti(root / "labelsTr" / f"case_{k}.nii.gz", label, spacing)
        training.append({"image": f"./imagesTr/case_{k}.nii.gz",
                         "label": f"./labelsTr/case_{k}.nii.gz"})
    meta = {"name": "tiny", "modality": {str(c): f"MR{c}" for c in range(channels)},
            "labels": {"0": "background", "1": "a", "2": "b"}, "numTraining": cases,
            "training": training, "test": []}
    (root / "dataset.json").write_text(json.dumps(meta))
    return root


def nnunet(root: Path, cases: int = 2) -> Path:
    rng = np.random.default_rng(1)
    for k in range(cases):
        image, label = volume(rng)
        write_nifti(root / "imagesTr" / f"tiny_{k:03d}_0000.nii.gz", image)
        write_nifti(root / "imagesTr" / f"tiny_{k:03d}_0001.nii.gz", -image)
        write_nifti(root / "labelsTr" / f"tiny_{k:03d}.nii.gz", label)
    write_nifti(root / "imagesTs" / "tiny_100_0000.nii.gz", image)
    write_nifti(root / "imagesTs" / "tiny_100_0001.nii.gz", image)
    meta = {"channel_names": {"0": "CT", "1": "T2"}, "labels": {"background": 0, "a": 1, "b": 2},
            "numTraining": cases, "file_ending": ".nii.gz"}
    (root / "dataset.json").write_text(json.dumps(meta))
    return root


def dicom_series(folder: Path, pixels: np.ndarray, spacing=(0.5, 0.5, 2.0),
                 origin=(-10.0, -20.0, 30.0), slope=2.0, intercept=-1000.0) -> None:
    """pixels: (x, y, z) stored values; one CT file per z slice, shuffled file names."""
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    series, study, frame = generate_uid(), generate_uid(), generate_uid()
    nz = pixels.shape[2]
    for z in range(nz):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = pydicom.Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
        ds.Modality, ds.PatientID, ds.PatientName = "CT", "anon", "anon"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.SeriesNumber, ds.InstanceNumber = 1, z + 1
        ds.ImagePositionPatient = [origin[0], origin[1], origin[2] + z * spacing[2]]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [spacing[1], spacing[0]]          # row spacing (y), column (x)
        ds.SliceThickness = spacing[2]
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
        ds.Rows, ds.Columns = pixels.shape[1], pixels.shape[0]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.PixelData = np.ascontiguousarray(pixels[:, :, z].T.astype(np.uint16)).tobytes()
        ds.save_as(folder / f"slice_{(z * 7) % nz:03d}.dcm", enforce_file_format=True)
