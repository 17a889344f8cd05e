"""Load a project spec from YAML and explain every problem by file and line.

People write specs by hand, and a spec that fails is fixed fastest when every problem is listed
at once with the line to edit, so the YAML node tree is composed first to remember where each
key sits, pydantic errors are translated from model paths back to YAML paths, and broken
references are reported alongside structural errors instead of in a second round.
"""

from __future__ import annotations

import hashlib
import os
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from linkhaven.errors import SpecError
from linkhaven.spec.models import CONSISTENCY_ERROR, PATTERN_HINTS, Loc, Problem, ProjectSpec, reference_problems

LineIndex = dict[tuple[str, ...], int]
"""YAML path (keys, and sequence indexes as text) -> 1-based line of the key or item."""

_MERGE_TAG = "tag:yaml.org,2002:merge"


def spec_hash(path: str | os.PathLike[str]) -> str:
    """sha256 of the spec file's bytes, as manifests and the spec register record it."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_spec(path: str | os.PathLike[str]) -> ProjectSpec:
    """Read, parse and validate a project spec; raise `SpecError` listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) else "not UTF-8 text"
        raise SpecError(f"{path}: cannot read the project spec ({reason}).") from None
    return parse_spec(text, str(path))


def parse_spec(text: str, name: str = "<spec>") -> ProjectSpec:
    """Validate spec text; `name` is how messages refer to the file."""
    data, lines, problems = _parse_yaml(text, name)
    try:
        spec = ProjectSpec.model_validate(data)
    except ValidationError as err:
        problems.extend(_problems_from(err, data))
    else:
        if not problems:
            return spec
    raise SpecError(_format(name, problems, lines))


def _parse_yaml(text: str, name: str) -> tuple[object, LineIndex, list[Problem]]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: LineIndex = {}
        problems: list[Problem] = []
        if node is not None:
            _index(node, (), lines, problems, set())
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else 1
        what = " ".join(part for part in (err.context, err.problem) if part) or "invalid YAML"
        raise SpecError(f"{name}:{line}: YAML syntax: {what}; fix the YAML, then check the spec again.") from None
    except yaml.YAMLError:
        raise SpecError(f"{name}:1: YAML syntax: the file is not valid YAML.") from None
    finally:
        loader.dispose()
    return data, lines, problems


def _index(node: yaml.Node, path: tuple[str, ...], lines: LineIndex, problems: list[Problem], active: set[int]) -> None:
    """Record the line of every key and item; flag duplicate keys, which YAML would silently merge."""
    if id(node) in active:  # a recursive alias
        return
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
            child = (*path, key)
            # PyYAML keeps the last of duplicate keys, so the index points at the last one too.
            lines[child] = key_node.start_mark.line + 1
            if key in seen:
                problems.append((child, "this key appears twice in the same mapping; keep one"))
            seen.add(key)
            _index(value_node, child, lines, problems, active)
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            child = (*path, str(position))
            lines[child] = item.start_mark.line + 1
            _index(item, child, lines, problems, active)
    active.discard(id(node))


def _problems_from(err: ValidationError, data: object) -> list[Problem]:
    problems: list[Problem] = []
    structural = False
    for detail in err.errors(include_url=False):
        loc: Loc = tuple(part for part in detail["loc"] if part != "[key]")
        if detail["type"] == CONSISTENCY_ERROR:
            ctx = detail.get("ctx") or {}
            problems.extend(((*loc, *where), message) for where, message in ctx.get("problems", ()))
            structural = structural or bool(loc)
        else:
            problems.append((loc, _describe(detail)))
            structural = True
    if structural:
        # The whole-spec reference check runs only once every section is valid; run it on the
        # raw data now, so a broken reference is not hidden behind an unrelated typo.
        seen = {tuple(str(part) for part in loc) for loc, _ in problems}
        problems.extend(p for p in reference_problems(data) if tuple(str(part) for part in p[0]) not in seen)
    return problems


def _describe(detail: Any) -> str:
    kind = detail["type"]
    ctx = detail.get("ctx") or {}
    if kind == "missing":
        return "required but missing"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(tuple(detail["loc"][:-1]))
        return "unknown key" + (f"; expected one of: {', '.join(allowed)}" if allowed else "")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        if not detail["loc"]:
            return "expected a mapping of the spec's sections (project, purpose, sources, ...); see docs/spec.md"
        return "expected a mapping of keys to values"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        return "expected " + PATTERN_HINTS.get(pattern, f"text matching {pattern}")
    message = str(detail["msg"])
    message = re.sub(r"^(Value error|Assertion failed), ", "", message)
    return re.sub(r"^Input should be ", "expected ", message)


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys the model at `loc` accepts, so an 'unknown key' message can suggest the right one."""
    annotation: Any = ProjectSpec
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            if field is None:
                return []
            annotation = field.annotation
        elif typing.get_origin(annotation) in (dict, Mapping):
            annotation = typing.get_args(annotation)[1]
        elif typing.get_origin(annotation) in (tuple, list):
            annotation = typing.get_args(annotation)[0]
        else:
            return []
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            annotation = options[0] if len(options) == 1 else annotation
            if len(options) != 1:
                return annotation
        else:
            return annotation


def _line(lines: LineIndex, path: tuple[str, ...]) -> int:
    # A missing key has no line of its own: point at the nearest enclosing key that exists.
    for end in range(len(path), 0, -1):
        line = lines.get(path[:end])
        if line is not None:
            return line
    return 1


def _format(name: str, problems: list[Problem], lines: LineIndex) -> str:
    located = sorted(
        {
            (
                _line(lines, tuple(str(part) for part in loc)),
                ".".join(str(part) for part in loc) or "(top level)",
                message,
            )
            for loc, message in problems
        }
    )
    count = f"{len(located)} problem{'s' if len(located) != 1 else ''}"
    body = "\n".join(f"{name}:{line}: {path}: {message}" for line, path, message in located)
    return f"The project spec has {count}; fix each line below, then check it again.\n{body}"
