"""Checks of study config fields: each raises ``JaxinterInputError`` naming the field."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import JaxinterInputError


def check_int(name: str, value, low: int | None = None, high: int | None = None, *,
              optional: bool = False) -> None:
    """``value`` is an int in ``low..high`` (or None when ``optional``)."""
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise JaxinterInputError(f"{name}: expected an int, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bound = (f"between {low} and {high}" if high is not None and low is not None
                 else f">= {low}" if low is not None else f"<= {high}")
        raise JaxinterInputError(f"{name}: expected an int {bound}, got {value}")


def check_number(name: str, value, *, positive: bool = False, nonnegative: bool = False) -> None:
    """``value`` is a finite real number (positive or nonnegative when asked)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or abs(
            value) == float("inf"):
        raise JaxinterInputError(f"{name}: expected a finite number, got {value!r}")
    if positive and not value > 0:
        raise JaxinterInputError(f"{name}: expected a positive number, got {value}")
    if nonnegative and value < 0:
        raise JaxinterInputError(f"{name}: expected a number >= 0, got {value}")


def check_choice(name: str, value, choices: Sequence) -> None:
    """``value`` is one of ``choices``."""
    if value not in choices:
        raise JaxinterInputError(f"{name}: expected one of {list(choices)}, got {value!r}")


def check_int_list(name: str, values, low: int) -> tuple[int, ...]:
    """A non-empty sequence of ints >= ``low``, as a tuple."""
    if isinstance(values, str) or not isinstance(values, Sequence) or not values:
        raise JaxinterInputError(f"{name}: expected a non-empty list of ints, got {values!r}")
    for i, value in enumerate(values):
        check_int(f"{name}[{i}]", value, low)
    return tuple(values)
