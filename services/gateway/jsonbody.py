"""JSON request bodies: the accepted media types, strict parsing, and a nesting limit.

:func:`parse_json` is the one way the gateway turns request bytes into JSON. It is strict (UTF-8
only, no ``NaN``/``Infinity``) and bounded: the parser (orjson) refuses nesting beyond its own
fixed limit without recursing on the C stack, and the depth check here walks the parsed value
with an explicit stack, so neither step can exhaust the interpreter's recursion limit however a
body is shaped. Error messages give a position, never a fragment of the input (which may be a
secret).
"""

from __future__ import annotations

from email.message import Message
from typing import TypeAlias

import orjson

from services.gateway.errors import InvalidJson, JsonTooDeep

JsonValue: TypeAlias = dict[str, "JsonValue"] | list["JsonValue"] | str | int | float | bool | None


def is_json_media_type(content_type: str | None) -> bool:
    """``application/json`` or ``application/*+json``, in UTF-8 if a charset is named."""
    if not content_type:
        return False
    header = Message()
    header["content-type"] = content_type
    if header.get_content_maintype() != "application":
        return False
    subtype = header.get_content_subtype()
    if subtype != "json" and not subtype.endswith("+json"):
        return False
    charset = header.get_content_charset()
    return charset is None or charset in ("utf-8", "utf8")


def parse_json(body: bytes, *, max_depth: int) -> JsonValue:
    """The JSON value in ``body``; :class:`InvalidJson` or :class:`JsonTooDeep` otherwise."""
    try:
        value: JsonValue = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        if "depth" in error.msg or "recursion" in error.msg:
            raise JsonTooDeep(_too_deep_message(max_depth)) from None
        raise InvalidJson(
            f"the request body is not valid JSON (line {error.lineno}, column {error.colno})"
        ) from None
    if json_depth(value, stop_above=max_depth) > max_depth:
        raise JsonTooDeep(_too_deep_message(max_depth))
    return value


def json_depth(value: JsonValue, *, stop_above: int | None = None) -> int:
    """How many containers deep ``value`` nests (a scalar is 0, ``[]`` is 1).

    With ``stop_above``, the walk ends as soon as that depth is exceeded, so a hostile body costs
    no more than the part of it that proves it too deep.
    """
    deepest = 0
    pending: list[tuple[dict[str, JsonValue] | list[JsonValue], int]] = []
    if isinstance(value, dict | list):
        pending.append((value, 1))
    while pending:
        node, depth = pending.pop()
        deepest = max(deepest, depth)
        if stop_above is not None and deepest > stop_above:
            return deepest
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, dict | list):
                pending.append((child, depth + 1))
    return deepest


def _too_deep_message(max_depth: int) -> str:
    return f"the request body nests JSON deeper than {max_depth} levels"
