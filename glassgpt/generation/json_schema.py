"""A JSON schema (a documented subset) as the regular expression of the JSON text it allows.

The subset, enough for "answer as this object":

==============  =====================================================================
``type``        ``object``, ``string``, ``integer``, ``boolean`` or ``array``
``properties``  an object's properties, written in this order, every one of them
``required``    accepted when it lists only declared properties (all are written anyway)
``enum``        a list of strings and integers; the value is one of them
``items``       an array's element schema
``minItems``    ``maxItems``: how many elements (default 0 and unbounded)
``minLength``   ``maxLength``: a string's length in characters
``additionalProperties``: ``false`` only (no property beyond ``properties`` is written)
``title``       ``description``, ``$schema``, ``$id``: ignored
==============  =====================================================================

Any other keyword is refused by name, before anything is sampled.  The text is compact
JSON as ``json.dumps`` writes it: ``{"name": "Ann", "tags": ["a", "b"]}``, a space after
every ``:`` and ``,``, strings with JSON's escapes.
"""

from __future__ import annotations

import json
from pathlib import Path

import regex

from glassgpt.errors import ConfigError

#: keywords that carry meaning this subset implements
KNOWN = {"type", "properties", "required", "enum", "items", "minItems", "maxItems", "minLength", "maxLength"}
#: keywords that change nothing about the text
IGNORED = {"title", "description", "$schema", "$id", "additionalProperties"}
#: the most elements or characters a bound may name (larger ones make absurd automata)
MAX_BOUND = 64

STRING_CHAR = r'(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})'
INTEGER = r"-?(?:0|[1-9][0-9]*)"


def read_schema(path: str | Path) -> dict:
    """The schema in a JSON file; one sentence for a missing file or one that is not a JSON object."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--json-schema {path} does not exist or is not a file; give a JSON schema file.")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"--json-schema {path} is not valid JSON ({exc.__class__.__name__}); fix the file.") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--json-schema {path} holds a {type(data).__name__}, not a schema object.")
    return data


def schema_regex(schema: dict, where: str = "the schema") -> str:
    """The regular expression of the JSON texts ``schema`` allows (see the module docstring)."""
    if not isinstance(schema, dict):
        raise ConfigError(f"{where} must be a JSON object, not {type(schema).__name__}.")
    unknown = sorted(set(schema) - KNOWN - IGNORED)
    if unknown:
        raise ConfigError(
            f"{where} uses the keyword {unknown[0]!r}, which constrained decoding does not support; "
            f"it supports {', '.join(sorted(KNOWN))}."
        )
    if schema.get("additionalProperties", False) is not False:
        raise ConfigError(f"{where}: additionalProperties can only be false (only the listed properties are written).")
    if "enum" in schema:
        return _enum(schema["enum"], where)
    kind = schema.get("type")
    if kind == "object":
        return _object(schema, where)
    if kind == "array":
        return _array(schema, where)
    if kind == "string":
        lo, hi = _bounds(schema, "minLength", "maxLength", where)
        return '"' + STRING_CHAR + _repeat(lo, hi) + '"'
    if kind == "integer":
        return INTEGER
    if kind == "boolean":
        return "(?:true|false)"
    raise ConfigError(
        f"{where} has the type {kind!r}; the supported types are object, string, integer, boolean and array "
        "(or an enum)."
    )


def _enum(values, where: str) -> str:
    if not isinstance(values, list) or not values:
        raise ConfigError(f"{where}: enum must be a non-empty list of values.")
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, (str, int))]
    if bad:
        raise ConfigError(f"{where}: enum values must be strings or integers, not {bad[0]!r}.")
    return "(?:" + "|".join(regex.escape(json.dumps(v, ensure_ascii=False)) for v in values) + ")"


def _object(schema: dict, where: str) -> str:
    props = schema.get("properties", {})
    if not isinstance(props, dict):
        raise ConfigError(f"{where}: properties must be an object of property schemas.")
    required = schema.get("required", list(props))
    if not isinstance(required, list) or any(r not in props for r in required):
        raise ConfigError(f"{where}: required must list names of its properties.")
    parts = [
        regex.escape(json.dumps(name, ensure_ascii=False)) + ": " + schema_regex(sub, f"{where}, property {name!r}")
        for name, sub in props.items()
    ]
    return r"\{" + ", ".join(parts) + r"\}"


def _array(schema: dict, where: str) -> str:
    if "items" not in schema:
        raise ConfigError(f"{where}: an array needs an items schema.")
    item = "(?:" + schema_regex(schema["items"], f"{where}, items") + ")"
    lo, hi = _bounds(schema, "minItems", "maxItems", where)
    if hi == 0:
        return r"\[\]"
    more = "(?:, " + item + ")" + _repeat(max(lo - 1, 0), None if hi is None else hi - 1)
    body = item + more
    return r"\[" + (body if lo > 0 else "(?:" + body + ")?") + r"\]"


def _bounds(schema: dict, low: str, high: str, where: str) -> tuple[int, int | None]:
    lo, hi = schema.get(low, 0), schema.get(high)
    for name, value in ((low, lo), (high, hi)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ConfigError(f"{where}: {name} must be a whole number, 0 or more, got {value!r}.")
        if value is not None and value > MAX_BOUND:
            raise ConfigError(f"{where}: {name} of {value} is more than the {MAX_BOUND} constrained decoding allows.")
    if hi is not None and hi < lo:
        raise ConfigError(f"{where}: {high} ({hi}) is less than {low} ({lo}); no value can meet both.")
    return lo, hi


def _repeat(lo: int, hi: int | None) -> str:
    if hi is None:
        return "*" if lo == 0 else "+" if lo == 1 else f"{{{lo},}}"
    return f"{{{lo},{hi}}}"
