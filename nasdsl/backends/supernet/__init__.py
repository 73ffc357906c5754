"""Supernet backend: the relaxed space graph interpreted with strategy hooks, children
re-elaborated per architecture, every module in one weight bank (docs/SEARCH_IR.md)."""

from nasdsl.backends.supernet.bank import WeightBank, bank_key, signature
from nasdsl.backends.supernet.net import (ChildNet, Supernet, restrict_state_dict,
                                          standalone_names)
from nasdsl.backends.supernet.strategy import Choose, Edge, OnePath, Strategy

__all__ = ["Supernet", "ChildNet", "Strategy", "OnePath", "Edge", "Choose", "WeightBank",
           "bank_key", "signature", "restrict_state_dict", "standalone_names"]
