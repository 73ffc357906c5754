"""Static tensor types: channels and a spatial stride per axis.

NOTE: stride is relative to the network input (1 = full resolution, 2 = half, 1/2 = twice
the input resolution), kept as exact fractions so that up- and down-sampling compose
without rounding. A concrete size exists only once an input size is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True, slots=True)
class TensorType:
    channels: int
    stride: tuple[Fraction, ...]

    @property
    def dims(self) -> int:
        return len(self.stride)

    def scaled(self, factors: tuple[Fraction | int, ...]) -> "TensorType":
        """Stride multiplied per axis (down-sampling by 2 multiplies by 2)."""
        return TensorType(self.channels, tuple(s * f for s, f in zip(self.stride, factors)))

    def with_channels(self, channels: int) -> "TensorType":
        return TensorType(channels, self.stride)

    def size(self, input_size: tuple[int, ...]) -> tuple[int, ...]:
        """Spatial size for a given network input size; caller checks divisibility first."""
        return tuple(int(n / s) for n, s in zip(input_size, self.stride))

    def describe(self) -> str:
        st = ",".join(str(s) for s in self.stride)
        return f"{self.channels} channels at stride ({st})"
