"""Observable values: read the current value, or iterate its changes asynchronously.

Changes are pushed to each subscriber's own buffer when ``set`` is called, so nothing ever polls.
A conflated observable (for fast-changing values such as audio levels) keeps only the newest
unread value per subscriber, so a slow reader never builds a backlog.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class _Subscriber(Generic[T]):
    __slots__ = ("buffer", "wakeup")

    def __init__(self, conflate: bool) -> None:
        self.buffer: deque[T] = deque(maxlen=1 if conflate else None)
        self.wakeup = asyncio.Event()


class Observable(Generic[T]):
    """A current value plus an async stream of its changes."""

    def __init__(self, value: T, *, conflate: bool = False) -> None:
        self._value = value
        self._conflate = conflate
        self._subscribers: list[_Subscriber[T]] = []
        self._listeners: list[Callable[[T], object]] = []

    @property
    def value(self) -> T:
        return self._value

    def set(self, value: T) -> None:
        """Change the value; subscribers hear of it only if it differs from the current one."""
        if value == self._value:
            return
        self._value = value
        for subscriber in self._subscribers:
            subscriber.buffer.append(value)
            subscriber.wakeup.set()
        for listener in list(self._listeners):
            listener(value)

    @property
    def listener_count(self) -> int:
        """How many synchronous listeners are attached (tests check nothing is left behind)."""
        return len(self._listeners)

    def listen(self, listener: Callable[[T], object]) -> Callable[[], None]:
        """Call ``listener`` synchronously on every change; returns a function that stops it."""
        self._listeners.append(listener)

        def stop() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return stop

    def __aiter__(self) -> AsyncIterator[T]:
        return self.changes()

    async def changes(self, *, include_current: bool = False) -> AsyncIterator[T]:
        """Yield every later value (or the newest, if conflated); optionally the current first."""
        subscriber: _Subscriber[T] = _Subscriber(self._conflate)
        self._subscribers.append(subscriber)
        try:
            if include_current:
                yield self._value
            while True:
                while not subscriber.buffer:
                    subscriber.wakeup.clear()
                    await subscriber.wakeup.wait()
                yield subscriber.buffer.popleft()
        finally:
            self._subscribers.remove(subscriber)

    async def wait_for(self, predicate: Callable[[T], bool]) -> T:
        """Wait until the value satisfies ``predicate`` (checked now, then on each change).

        Wrap in ``asyncio.timeout`` to bound the wait.
        """
        if predicate(self._value):
            return self._value
        async for value in self.changes():
            if predicate(value):
                return value
        raise AssertionError("unreachable")  # pragma: no cover
