"""The built-in datasets: nothing is downloaded."""

from nasdsl.data.mni import make_mni_dataset
from nasdsl.data.synth import make_synthetic_dataset

__all__ = ["make_mni_dataset", "make_synthetic_dataset"]
