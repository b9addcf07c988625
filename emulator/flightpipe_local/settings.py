"""The emulator's settings read from the environment (the emulated waits that make it behave like AWS in time)."""

from __future__ import annotations

import os


def seconds(variable: str, default: float, example: str) -> float:
    """A time in seconds from `variable` (unset or empty: `default`); anything but a finite number >= 0 is refused,
    naming the variable, so a typo stops the stack at start instead of changing its timing."""
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise ValueError(f"{variable}={text!r}: give the time in seconds, a number >= 0 (e.g. {example})")
    return value
