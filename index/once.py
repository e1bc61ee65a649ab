"""``@once``: a per-process, thread-safe memo for expensive singletons (a loaded model, a store client).

``functools.lru_cache`` does not hold a lock while the function runs, so fifty threads arriving together each
build their own copy: fifty ONNX sessions, or chromadb clients created concurrently (which fails:
"Could not connect to tenant default_tenant"). Here the first caller for a key builds it while the others for
that key wait; different keys do not wait for each other.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Hashable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


def once(fn: Callable[P, T]) -> Callable[P, T]:
    values: dict[Hashable, T] = {}
    locks: dict[Hashable, threading.Lock] = {}
    guard = threading.Lock()

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        key = (args, tuple(sorted(kwargs.items())))
        if key in values:
            return values[key]
        with guard:
            lock = locks.setdefault(key, threading.Lock())
        with lock:
            if key not in values:
                values[key] = fn(*args, **kwargs)
            return values[key]

    def cache_clear() -> None:
        with guard:
            values.clear()
            locks.clear()

    # a function attribute, as functools.lru_cache gives one; the wrapper's declared type cannot carry it
    wrapper.cache_clear = cache_clear  # type: ignore[attr-defined]
    return wrapper
