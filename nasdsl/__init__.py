"""nasdsl: a compiler for neural-architecture-search spaces in medical image segmentation."""

__version__ = "0.1.0"
