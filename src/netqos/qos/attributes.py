"""Typed attribute specifications and their conversion, as Neutron's API validates them.

A Field converts one client-supplied value to its canonical Python value or raises
InvalidAttribute naming the field, so every 400 says which input was wrong and why.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from netqos.qos.errors import HTTPBadRequest, InvalidInput

MAX_INT32 = 2**31 - 1
REQUIRED = object()  # sentinel: the field has no default and must be given on create
ABSENT = object()    # sentinel default: the client did not give the field (≠ null)


class InvalidAttribute(HTTPBadRequest):
    """One attribute failed validation. Neutron reports these as HTTPBadRequest."""

    message = "Invalid input for %(attribute)s. Reason: %(reason)s."

    @property
    def type(self) -> str:
        return "HTTPBadRequest"


@dataclass(frozen=True)
class Field:
    name: str
    default: Any = REQUIRED
    allow_post: bool = True
    allow_put: bool = True
    nullable: bool = False

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def convert(self, value: Any) -> Any:
        if value is None:
            if self.nullable:
                return None
            return self._refuse_none()
        return self._convert(value)

    def _refuse_none(self) -> Any:
        raise InvalidAttribute(attribute=self.name, reason="'None' is not allowed")

    def _convert(self, value: Any) -> Any:
        return value

    def invalid(self, value: Any, why: str) -> InvalidAttribute:
        return InvalidAttribute(attribute=self.name, reason=f"'{value}' {why}")


def unconvertible(value: Any, why: str) -> InvalidInput:
    """A value of the wrong type altogether: Neutron's converters answer InvalidInput,
    without naming the attribute (its validators, run after, answer HTTPBadRequest)."""
    return InvalidInput(error_message=f"'{value}' {why}")


def to_int(value: Any) -> int:
    """Neutron's convert_to_int, minus its silent truncation of 1.5 to 1."""
    if isinstance(value, bool):
        raise unconvertible(value, "is not an integer")
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise unconvertible(value, "is not an integer") from None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, int):
        raise unconvertible(value, "is not an integer")
    return value


@dataclass(frozen=True)
class IntRange(Field):
    """An integer; numeric strings are accepted as Neutron's convert_to_int does."""

    minimum: int = 0
    maximum: int = MAX_INT32

    def _refuse_none(self) -> int:
        raise unconvertible(None, "is not an integer")

    def _convert(self, value: Any) -> int:
        number = to_int(value)
        if number < self.minimum:
            raise self.invalid(number, f"is too small - must be at least '{self.minimum}'")
        if number > self.maximum:
            raise self.invalid(number, f"is too large - must be no larger than '{self.maximum}'")
        return number


@dataclass(frozen=True)
class Choice(Field):
    choices: tuple[Any, ...] = ()

    @property
    def _integers(self) -> bool:
        return bool(self.choices) and all(isinstance(c, int) for c in self.choices)

    def _refuse_none(self) -> Any:
        if self._integers:
            raise unconvertible(None, "is not an integer")
        return super()._refuse_none()

    def _convert(self, value: Any) -> Any:
        if self._integers:
            value = to_int(value)  # "26" for a DSCP mark, as Neutron converts it
        if isinstance(value, bool) or value not in self.choices:
            raise InvalidAttribute(attribute=self.name,
                                   reason=f"{value} is not in valid_values")
        return value


@dataclass(frozen=True)
class Boolean(Field):
    def _refuse_none(self) -> bool:
        raise unconvertible(None, "cannot be converted to boolean")

    def _convert(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1")
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise unconvertible(value, "cannot be converted to boolean")


@dataclass(frozen=True)
class String(Field):
    max_length: int = 255

    def _convert(self, value: Any) -> str:
        if not isinstance(value, str):
            raise self.invalid(value, "is not a valid string")
        if len(value) > self.max_length:
            raise self.invalid(value, f"exceeds maximum length of {self.max_length}")
        if "\x00" in value:
            # PostgreSQL text cannot hold NUL: refuse it here rather than fail in the database.
            raise InvalidAttribute(attribute=self.name, reason="NUL characters are not allowed")
        return value


@dataclass(frozen=True)
class Uuid(Field):
    def _convert(self, value: Any) -> str:
        if isinstance(value, str):
            try:
                return str(uuid.UUID(value))
            except ValueError:
                pass
        raise self.invalid(value, "is not a valid UUID")


@dataclass(frozen=True)
class Dict(Field):
    def _convert(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.invalid(value, "is not a dictionary")
        return value


@dataclass(frozen=True)
class ListOf(Field):
    item: Field | None = None

    def _convert(self, value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise self.invalid(value, "is not a list")
        return [self.item.convert(v) for v in value] if self.item else value


@dataclass(frozen=True)
class Schema:
    """The writable attributes of one resource and the read-only ones it shows."""

    resource: str
    fields: tuple[Field, ...]
    read_only: frozenset[str] = field(default_factory=frozenset)

    def by_name(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    def for_create(self, body: dict[str, Any]) -> dict[str, Any]:
        """Validate a POST body: every value converted, defaults filled in."""
        fields = self.by_name()
        self._refuse_unknown(body, fields, "POST", lambda f: f.allow_post)
        out = {}
        for f in self.fields:
            if not f.allow_post:
                continue
            if f.name in body:
                out[f.name] = f.convert(body[f.name])
            elif f.required:
                raise HTTPBadRequest(f"Failed to parse request. Required attribute "
                                     f"'{f.name}' not specified")
            else:
                out[f.name] = f.default
        return out

    def for_update(self, body: dict[str, Any]) -> dict[str, Any]:
        """Validate a PUT body: only the given values, converted."""
        fields = self.by_name()
        self._refuse_unknown(body, fields, "PUT", lambda f: f.allow_put)
        return {name: fields[name].convert(value) for name, value in body.items()}

    def _refuse_unknown(self, body: dict[str, Any], fields: dict[str, Field], verb: str,
                        allowed: Callable[[Field], bool]) -> None:
        unknown = [k for k in body if k not in fields and k not in self.read_only]
        if unknown:
            names = ", ".join(f"'{k}'" for k in unknown)
            raise HTTPBadRequest(f"Unrecognized attribute(s) {names}")
        for key in body:
            if key in self.read_only or not allowed(fields[key]):
                raise HTTPBadRequest(f"Attribute '{key}' not allowed in {verb}")
