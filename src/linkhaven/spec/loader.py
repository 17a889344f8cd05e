"""Load a project spec from YAML and explain every problem by file and line.

People write specs by hand, and a spec that fails is fixed fastest when every problem is listed
at once with the line to edit, so the YAML node tree is composed first to remember where each
key sits, pydantic errors are translated from model paths back to YAML paths, and broken
references are reported alongside structural errors instead of in a second round.

A spec is also a file someone else may have written, so it is read with limits before anything is
built from it: its size, how deep it nests, and how many aliases it uses and how far they expand.
Ten lines of nested aliases ("billion laughs") would otherwise expand to gigabytes, and a spec
nested ten thousand levels deep would end in a RecursionError. The limits are checked while the
node tree is composed (depth and count, so composing stays shallow) and on the composed tree before
anything is constructed (expansion through aliases), walking it with a stack, not recursion.
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
from linkhaven.spec.project import ProjectSpec, reference_problems
from linkhaven.spec.vocabulary import CONSISTENCY_ERROR, PATTERN_HINTS, Loc, Problem

LineIndex = dict[tuple[str, ...], int]
"""YAML path (keys, and sequence indexes as text) -> 1-based line of the key or item."""

_MERGE_TAG = "tag:yaml.org,2002:merge"

MAX_SPEC_BYTES = 1 << 20
"""The largest spec file read: the Ontario spec is about 55 KB."""
MAX_DEPTH = 50
"""The deepest nesting of mappings and sequences, aliases expanded: the Ontario spec nests 7 deep."""
MAX_ALIASES = 1_000
"""The most aliases (`*name`) one spec may use."""
MAX_NODES = 250_000
"""The most keys and values a spec may hold once its aliases are expanded: the Ontario spec has about 3,600."""


class _LimitExceeded(Exception):
    def __init__(self, node: yaml.Node | yaml.Event | None, message: str) -> None:
        super().__init__(message)
        mark = node.start_mark if node is not None else None
        self.line = mark.line + 1 if mark is not None else 1
        self.message = message


class _LimitedLoader(yaml.SafeLoader):
    """PyYAML's safe loader that stops composing at the depth, alias and node limits."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0
        self._aliases = 0
        self._nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _LimitExceeded(event, f"more than {MAX_ALIASES:,} aliases (*name), the limit for a project "
                                            "spec; write the values out instead")  # fmt: skip
            return super().compose_node(parent, index)
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _LimitExceeded(event, _too_many())
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _LimitExceeded(event, _too_deep())
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _too_deep() -> str:
    return f"nested more than {MAX_DEPTH} levels deep, the limit for a project spec; flatten this part"


def _too_many() -> str:
    return (
        f"holds more than {MAX_NODES:,} keys and values once aliases are expanded, the limit for a project "
        "spec; write fewer values or use fewer nested aliases"
    )


def spec_hash(path: str | os.PathLike[str]) -> str:
    """sha256 of the spec file's bytes, as manifests and the spec register record it."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_spec_bytes(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a spec file, refused unread beyond `MAX_SPEC_BYTES`."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            data = handle.read(MAX_SPEC_BYTES + 1) if size <= MAX_SPEC_BYTES else b""
    except OSError as err:
        raise SpecError(f"{path}: cannot read the project spec ({err.strerror}).") from None
    if size > MAX_SPEC_BYTES or len(data) > MAX_SPEC_BYTES:
        raise SpecError(_too_large(str(path), max(size, len(data))))
    return data


def _too_large(name: str, size: int) -> str:
    return (
        f"{name}: the file is {size:,} bytes, more than the limit of {MAX_SPEC_BYTES:,} bytes (1 MiB) "
        "for a project spec; check that this is the right file."
    )


def load_spec(path: str | os.PathLike[str]) -> ProjectSpec:
    """Read, parse and validate a project spec; raise `SpecError` listing every problem."""
    return parse_spec_bytes(read_spec_bytes(path), str(path))


def parse_spec_bytes(data: bytes, name: str = "<spec>") -> ProjectSpec:
    """Validate a spec file's bytes (UTF-8); `name` is how messages refer to the file."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"{name}: cannot read the project spec (not UTF-8 text).") from None
    return parse_spec(text, name)


def parse_spec(text: str, name: str = "<spec>") -> ProjectSpec:
    """Validate spec text; `name` is how messages refer to the file."""
    if len(text) > MAX_SPEC_BYTES:
        raise SpecError(_too_large(name, len(text.encode("utf-8"))))
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
    loader = _LimitedLoader(text)
    try:
        node = loader.get_single_node()
        lines: LineIndex = {}
        problems: list[Problem] = []
        if node is not None:
            _check_expansion(node)
            _index(node, lines, problems)
        data = loader.construct_document(node) if node is not None else None
    except _LimitExceeded as err:
        raise SpecError(
            f"The project spec has 1 problem; fix the line below, then check it again.\n"
            f"{name}:{err.line}: (YAML): {err.message}"
        ) from None
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


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a node tree whose aliases expand too far, nest too deep or refer to themselves.

    Aliases make the tree a graph that shares nodes, so each node's expanded size and height are
    computed once, after its children (an explicit stack: post-order), in time linear in the
    nodes actually composed however far they would expand.
    """
    size: dict[int, int] = {}
    height: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        key = id(node)
        if leaving:
            children = _children(node)
            size[key] = 1 + sum(size[id(child)] for child in children)
            height[key] = 1 + max((height[id(child)] for child in children), default=0)
            open_nodes.discard(key)
            if size[key] > MAX_NODES:
                raise _LimitExceeded(node, _too_many())
            if height[key] > MAX_DEPTH:
                raise _LimitExceeded(node, _too_deep() + " (through its aliases)")
            continue
        if key in size:
            continue
        if key in open_nodes:
            raise _LimitExceeded(node, "an alias here refers to a collection that contains it, so it never ends; "
                                       "remove the recursive alias")  # fmt: skip
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in size)


def _index(root: yaml.Node, lines: LineIndex, problems: list[Problem]) -> None:
    """Record the line of every key and item; flag duplicate keys, which YAML would silently merge.

    Runs after `_check_expansion`, so the tree has no cycle and expands to a bounded size."""
    stack: list[tuple[yaml.Node, tuple[str, ...]]] = [(root, ())]
    while stack:
        node, path = stack.pop()
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
                stack.append((value_node, child))
        elif isinstance(node, yaml.SequenceNode):
            for position, item in enumerate(node.value):
                child = (*path, str(position))
                lines[child] = item.start_mark.line + 1
                stack.append((item, child))


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
