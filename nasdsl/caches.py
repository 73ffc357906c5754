"""nasdsl's one cache policy: a bounded map, least recently used entry evicted first.

Every cache that outlives a call (the table cache of `sema/explore.py`, a search space's
children and relaxed graphs, a supernet's child modules, a run's compiled network in
`artifact.py`) is an `Lru` of a stated size, so none grows with a long search and each
evicts the same way. A memo that lives only inside one computation (the variants of
`bounds.py`, one exploration's elaborations) is a plain local dict instead, and a value
loaded once (the grammar, the ops' source) is a `functools.lru_cache(maxsize=1)`.

Two on-disk records are not caches in this sense and keep their own rules: a pipeline's
`file_hashes.json` (pipeline/content.py: one content hash per input file, invalidated by
size/mtime/inode like git's index) and a training run's `cache/` of preprocessed cases
(one file per case of the dataset). Each is bounded by its run's inputs, not by a count.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Lru(Generic[K, V]):
    def __init__(self, size: int):
        if size < 1:
            raise ValueError("an Lru holds at least one entry")
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        if key not in self._items:
            return None
        self._items.move_to_end(key)
        return self._items[key]

    def put(self, key: K, value: V) -> V:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return value

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        """The entry of `key`, made (and kept) on a miss; a failing `make` keeps nothing."""
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        return self.put(key, make())

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def values(self) -> list[V]:
        return list(self._items.values())
