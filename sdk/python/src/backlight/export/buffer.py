"""A bounded buffer that drops (and counts) instead of growing."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Buffer(Generic[T]):
    """Items waiting for export. ``put`` is cheap and never blocks.

    ``wake`` is called once when the buffer reaches ``wake_at`` items, so the worker
    can send a full batch without waiting for its timer.
    """

    def __init__(self, maxsize: int, wake_at: int, wake: Callable[[], None]) -> None:
        self.maxsize = maxsize
        self.wake_at = wake_at
        self.wake = wake
        self.dropped = 0
        self.items: deque[T] = deque()

    def __len__(self) -> int:
        return len(self.items)

    def put(self, item: T) -> None:
        items = self.items
        size = len(items)
        if size >= self.maxsize:
            self.dropped += 1
            return
        items.append(item)
        if size + 1 == self.wake_at:
            self.wake()

    def take(self, limit: int) -> list[T]:
        """Remove and return up to ``limit`` items, oldest first."""
        pop = self.items.popleft
        out: list[T] = []
        try:
            for _ in range(limit):
                out.append(pop())
        except IndexError:
            pass
        return out

    def clear(self) -> None:
        self.items.clear()
