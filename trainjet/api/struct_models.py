"""Pydantic models generated from the msgspec read models, for OpenAPI only.

The routes encode the msgspec structs themselves (fast); OpenAPI needs pydantic models. A
hand-written copy of each struct drifts the day a field is added to one and not the other,
so the models are built from the structs' own fields: names, types, defaults, required.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Union, get_args, get_origin

import msgspec
from pydantic import BaseModel, Field, create_model

_made: dict[type[msgspec.Struct], type[BaseModel]] = {}


def model_of(
    struct: type[msgspec.Struct],
    *,
    name: str | None = None,
    extra: dict[str, Any] | None = None,
) -> type[BaseModel]:
    """A pydantic model with the fields of `struct` (nested structs become models too), plus
    `extra` fields (name -> (type, default)) for values a route adds beside the struct's."""
    if extra is None and name is None and struct in _made:
        return _made[struct]
    hints = typing.get_type_hints(struct)
    fields: dict[str, Any] = {}
    for f in msgspec.structs.fields(struct):
        annotation = _translate(hints[f.name])
        if f.required:
            default: Any = ...
        elif f.default is not msgspec.NODEFAULT:
            default = f.default
        else:
            default = Field(default_factory=f.default_factory)
        fields[f.encode_name] = (annotation, default)
    fields.update(extra or {})
    model: type[BaseModel] = create_model(
        name or f"{struct.__name__}Model",
        __doc__=struct.__doc__,
        __module__=struct.__module__,
        **fields,
    )
    if extra is None and name is None:
        _made[struct] = model
    return model


def _translate(annotation: Any) -> Any:
    """The annotation with every msgspec struct in it replaced by its model."""
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return model_of(annotation)
    origin, args = get_origin(annotation), get_args(annotation)
    if not args:
        return annotation
    translated = tuple(_translate(a) for a in args)
    if origin in (Union, types.UnionType):
        return Union[translated]  # noqa: UP007 (a union built from a tuple of types)
    if origin is tuple and len(translated) == 2 and translated[1] is Ellipsis:
        return tuple[translated[0], ...]  # type: ignore[valid-type]
    return origin[translated]
