"""Config files read through schemas: every mistake is one line naming the file, the field and the fix.

The files a user edits (``data/conditions.yaml``, ``data/published.yaml``, the presets)
and the ``bundle.json`` a user may receive are validated by pydantic models that live
beside their readers; this module holds what they share:

- :func:`read_yaml`: the document of a YAML file, with one-line messages for a missing,
  unreadable, binary or malformed file;
- :func:`validated`: a document checked against a model; a :class:`FlygnnError` that
  names the file, the field (``conditions #2.sigma``), what is wrong with the value and
  what the field expects (the field's ``description``);
- :data:`Number`, :data:`Integer`: numbers as a person writes them. PyYAML reads YAML
  1.1, where ``5e-2`` (no dot) is a string: a numeric string is accepted for a numeric
  field, a boolean is not (YAML reads ``yes`` as True), nor NaN or infinity.
"""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, RootModel, ValidationError

from flygnn.errors import FlygnnError

M = TypeVar("M", bound=BaseModel)


def _not_a_boolean(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"{value} (a YAML boolean) is not a number")
    return value


def _integer_in_exponent_notation(value: Any) -> Any:
    """'5e2' (a string in YAML 1.1) → 500; anything else is left to the int validator."""
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        if number.is_integer():
            return int(number)
    return value


# a numeric string ('5e-2', '5e2': strings in YAML 1.1) is parsed; a boolean is refused
Number = Annotated[float, BeforeValidator(_not_a_boolean), Field(allow_inf_nan=False)]
Integer = Annotated[int, BeforeValidator(_integer_in_exponent_notation), BeforeValidator(_not_a_boolean)]


class Strict(BaseModel):
    """A part of a config file: unknown keys are mistakes (a typo would otherwise be ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Open(BaseModel):
    """A part of a record that carries more than flygnn reads (``bundle.json``): other keys pass."""

    model_config = ConfigDict(extra="allow", frozen=True)


def read_yaml(path: str | Path, missing: str) -> Any:
    """The document of the YAML file ``path``; ``missing``: what to do when it does not exist."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise FlygnnError(f"{path} not found; {missing}") from None
    except IsADirectoryError:
        raise FlygnnError(f"{path} is a folder, not a YAML file; {missing}") from None
    except UnicodeDecodeError:
        raise FlygnnError(
            f"{path} is not a text file (not UTF-8); it must be YAML, e.g. a copy of the original."
        ) from None
    except OSError as exc:  # a name too long, no permission, an I/O error
        raise FlygnnError(f"cannot read {_short(path)} ({exc.strerror or exc}); {missing}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise FlygnnError(f"{path} is not valid YAML: {problem}{where}; fix the syntax there.") from None


def _short(value: Any, limit: int = 60) -> str:
    text = str(value)
    return text if len(text) <= limit else f"{text[: limit - 20]}…{text[-15:]}"


def _strip(annotation: Any) -> Any:
    """``Annotated[X, ...]`` and ``X | None`` → ``X``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        else:
            return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _resolve(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[str, list[Any], Any]:
    """Where ``loc`` points, as a person reads it (``conditions #2.sigma``: entries count from 1,
    ``published[0.05]``: a mapping's key), the fields met on the way and the type it ends at."""
    current: Any = model
    name = ""
    met = []
    if issubclass(model, RootModel):  # a file that is one mapping: its keys start the loc
        current = model.model_fields["root"].annotation
    for item in loc:
        current = _strip(current)
        origin, args = typing.get_origin(current), typing.get_args(current)
        if _is_model(current) and isinstance(item, str):
            name += f".{item}" if name else item
            field = current.model_fields.get(item)
            if field is not None:
                met.append(field)
            current = field.annotation if field is not None else None
        elif origin in (list, tuple) and isinstance(item, int):
            name += f" #{item + 1}"
            current = args[0] if args else None
        elif origin is dict:
            if item == "[key]":  # pydantic's mark of a key that is itself invalid
                name += " (the key)"
                current = None
            else:
                name += f"[{item}]" if name else str(item)  # a file that is one mapping: its keys
                current = args[1] if len(args) == 2 else None
        else:
            name += f".{item}" if name else str(item)
            current = None
    return name, met, _strip(current)


def _expected(model: type[BaseModel], loc: tuple[Any, ...]) -> str | None:
    """The description of the deepest field along ``loc`` that has one."""
    described = [field.description for field in _resolve(model, loc)[1] if field.description]
    if not loc and model.__doc__:  # the document itself: what the file holds
        described = [model.__doc__.strip().splitlines()[0].rstrip(".")]
    return described[-1] if described else None


def _allowed(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed where the unknown key ``loc[-1]`` was found."""
    parent = _resolve(model, loc[:-1])[2]
    return list(parent.model_fields) if _is_model(parent) else []


def _describe(error: Any, model: type[BaseModel]) -> str:
    """One pydantic error as ``field: problem (got value); fix``."""
    loc = tuple(error["loc"])
    field = _resolve(model, loc)[0] or "the document"
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _allowed(model, loc)
        hint = f"allowed: {', '.join(allowed)}" if allowed else "remove it"
        return f"{field}: unknown key; check its spelling or remove it ({hint})."
    message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    message = re.sub(r" or instance of \w+", "", message)
    if kind not in ("missing", "value_error") and "input" in error:
        message += f" (got {_short(repr(error['input']))})"
    expected = _expected(model, loc)
    return f"{field}: {message}" + (f"; expected {expected}." if expected else ".")


def validated(model: type[M], document: Any, source: str | Path) -> M:
    """``document`` (read from ``source``) checked against ``model``; the first problem as a
    one-line :class:`FlygnnError` naming the file and the field (the others follow once it is fixed)."""
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        errors = exc.errors()
        more = f" ({len(errors) - 1} more problem(s) after this one)" if len(errors) > 1 else ""
        raise FlygnnError(f"{source}, {_describe(errors[0], model)}{more}") from None
