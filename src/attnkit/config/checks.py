"""Checks of config values: declared on the dataclass fields, run by one validator.

A field says what it accepts in its metadata::

    num_heads: int = field(default=4, metadata=positive())
    norm: str = field(default="layernorm", metadata=choice(NORMS))

and every :class:`Section` runs :func:`check_fields` before its cross-field checks. A bad
value raises a :class:`ConfigError` that names the dotted key and says what is allowed,
e.g. ``model.norm='batchnorm' is not allowed; choose one of layernorm, rmsnorm, none``.
A field declared ``bool`` must hold a real bool without saying so (``"false"`` is a typo,
not False). A subclass that only changes a default keeps the base field's checks.

The number checks let bools through as 0 and 1, as the hand-written checks they replace
did: a config saved by an older version may hold one, and it must still load.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, ClassVar

CHECKS = "attnkit.checks"  # the metadata key that holds a field's rules


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the dotted key."""


@dataclass(frozen=True)
class Rule:
    """One requirement on a field's value.

    Attributes:
        passes: ``passes(value, config)`` is true when the value is allowed.
        requirement: ``requirement(config)`` says what is allowed (``"must be ..."``).
        optional: ``None`` is allowed too (a default resolved elsewhere, or "unset").
    """

    passes: Callable[[Any, Any], bool]
    requirement: Callable[[Any], str]
    optional: bool = False


class Checks(dict):
    """Field metadata: the rules a value must pass, in order; ``a + b`` checks both."""

    def __init__(self, *rules: Rule) -> None:
        super().__init__({CHECKS: rules})

    def __add__(self, other: Checks) -> Checks:
        return Checks(*self[CHECKS], *other[CHECKS])


def _rule(passes: Callable[[Any], bool], requirement: str, optional: bool = False) -> Checks:
    """Checks of one rule that looks at the value alone."""
    return Checks(Rule(lambda value, _: passes(value), lambda _: requirement, optional))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float)


def positive(*, optional: bool = False) -> Checks:
    """A positive integer (a width, a depth, a size); with ``optional``, or ``None``."""
    return _rule(lambda v: _is_int(v) and v >= 1, "must be a positive integer", optional)


def count() -> Checks:
    """An integer ``>= 0`` (for step intervals, 0 usually means off)."""
    return _rule(lambda v: _is_int(v) and v >= 0, "must be an integer >= 0")


def integer(low: int, high: int | None = None, *, says: str = "") -> Checks:
    """An integer in ``[low, high]`` (no upper bound when ``high`` is None).

    ``says`` replaces the generated requirement (``"must be >= low"``), e.g. to name
    the unit. Bools pass as 0 and 1, as they did before these checks were declarative.
    """
    text = says or (f"must be >= {low}" if high is None else f"must be in [{low}, {high}]")
    return _rule(lambda v: isinstance(v, int) and low <= v and (high is None or v <= high), text)


def probability(*, optional: bool = False) -> Checks:
    """A probability in ``[0, 1)`` (a dropout rate, label smoothing)."""
    return _rule(
        lambda v: _is_number(v) and 0.0 <= v < 1.0, "must be a probability in [0, 1)", optional
    )


def number(
    *,
    above: float | None = None,
    at_least: float | None = None,
    below: float | None = None,
    optional: bool = False,
    note: str = "",
) -> Checks:
    """A real number above (or at least) a bound, and optionally below another.

    The requirement reads ``must be > 0``, ``must be >= 0`` or ``must be in [0, 1)``;
    ``note`` is added in brackets, e.g. ``must be >= 0 (0 = no limit)``.
    """
    if (above is None) == (at_least is None):
        raise TypeError("number() takes exactly one of above= and at_least=")
    low = above if at_least is None else at_least
    if below is None:
        text = f"must be {'>' if at_least is None else '>='} {low}"
    else:
        text = f"must be in {'(' if at_least is None else '['}{low}, {below})"
    text += f" ({note})" if note else ""

    def passes(v: Any) -> bool:
        if not _is_number(v) or (v <= low if at_least is None else v < low):
            return False
        return below is None or v < below

    return _rule(passes, text, optional)


def choice(allowed: tuple[str, ...], *, optional: bool = False) -> Checks:
    """One of ``allowed`` (with ``optional``, or ``None``); the error lists them."""
    return _rule(
        lambda v: v in allowed, f"is not allowed; choose one of {', '.join(allowed)}", optional
    )


def token_id(*vocab_keys: str) -> Checks:
    """A token id below each named vocabulary size (unbounded while it is unset), or None."""
    return Checks(*(_token_id_below(key) for key in vocab_keys))


def _token_id_below(vocab_key: str) -> Rule:
    def passes(value: Any, config: Any) -> bool:
        vocab = getattr(config, vocab_key)
        return _is_int(value) and 0 <= value < (float("inf") if vocab is None else vocab)

    def requirement(config: Any) -> str:
        vocab = getattr(config, vocab_key)
        return f"must be a token id in [0, {config.section}.{vocab_key}={vocab})"

    return Rule(passes, requirement, optional=True)


_BOOLEAN = Rule(lambda value, _: isinstance(value, bool), lambda _: "must be true or false")


@functools.cache
def field_rules(cls: type) -> tuple[tuple[str, tuple[Rule, ...]], ...]:
    """``(name, rules)`` of each field of the dataclass ``cls``, in field order.

    A field's rules are its own, else those of the nearest base that declares the field
    with rules (a subclass that only changes a default keeps them); a ``bool`` field
    starts with the true-or-false rule.
    """
    table = []
    for item in fields(cls):
        declared = (
            base.__dataclass_fields__[item.name].metadata
            for base in cls.__mro__
            if item.name in getattr(base, "__dataclass_fields__", {})
        )
        rules = next((meta[CHECKS] for meta in declared if CHECKS in meta), ())
        if item.type in ("bool", bool):
            rules = (_BOOLEAN, *rules)
        table.append((item.name, rules))
    return tuple(table)


def check_fields(config: Any) -> None:
    """Check every field of a config dataclass against the rules its metadata declares.

    Fields declared ``bool`` must hold a bool. The first value that fails raises a
    :class:`ConfigError` naming ``section.key=value`` and what is allowed.
    """
    for name, rules in field_rules(type(config)):
        value = getattr(config, name)
        for rule in rules:
            if value is None and rule.optional:
                continue
            if not rule.passes(value, config):
                raise ConfigError(f"{config.section}.{name}={value!r} {rule.requirement(config)}")


@dataclass(frozen=True, kw_only=True)
class Section:
    """A config section (``[model]``, ``[data]``, ``[train]``).

    Building one checks each field against its metadata (:func:`check_fields`), then
    the relations between fields (:meth:`_check_relations`).
    """

    section: ClassVar[str]

    def __post_init__(self) -> None:
        check_fields(self)
        self._check_relations()

    def _check_relations(self) -> None:
        """Checks that involve several fields; subclasses extend it, base first."""
