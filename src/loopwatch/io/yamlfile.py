"""YAML reading that remembers where every value came from.

:func:`read_yaml` returns the plain data and a map from each dotted path
(as a tuple of keys and indices) to its 1-based line, so that validation can
say ``book.yaml:118: contracts[12].schedule.start: ...``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from loopwatch.errors import Problem

__all__ = ["LineMap", "YamlSyntaxError", "dotted", "line_of", "read_yaml", "read_yaml_text"]

LineMap = dict[tuple[Any, ...], int]

# libyaml's parser when the wheel has it (about 5x faster); the pure-Python one otherwise
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlSyntaxError(Exception):
    """Malformed YAML; carries the :class:`Problem` with its line."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(str(problem))


def dotted(path: tuple[Any, ...]) -> str:
    """``("contracts", 12, "schedule")`` → ``"contracts[12].schedule"``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def line_of(lines: LineMap, path: tuple[Any, ...]) -> int | None:
    """Line of ``path``, or of its nearest ancestor present in the file."""
    p = tuple(path)
    while p:
        if p in lines:
            return lines[p]
        p = p[:-1]
    return lines.get((), None)


def _convert(node: yaml.Node, path: tuple[Any, ...], lines: LineMap, loader: Any,
             file: str, problems: list[Problem]) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node)
            if key == "<<":  # merge keys: keep it simple and explicit
                merged = _convert(value_node, path, lines, loader, file, problems)
                if isinstance(merged, dict):
                    for k, v in merged.items():
                        out.setdefault(k, v)
                continue
            if key in out:
                problems.append(Problem(file, key_node.start_mark.line + 1, dotted((*path, key)),
                                        "duplicate key"))
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _convert(value_node, (*path, key), lines, loader, file, problems)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(v, (*path, i), lines, loader, file, problems) for i, v in enumerate(node.value)]
    return loader.construct_object(node)


def read_yaml_text(text: str, file: str) -> tuple[Any, LineMap, list[Problem]]:
    """Parse YAML text; return ``(data, lines, problems)``.

    Raises
    ------
    YamlSyntaxError
        If the text is not well-formed YAML (the problem names its line).
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        lines: LineMap = {}
        problems: list[Problem] = []
        data = None if node is None else _convert(node, (), lines, loader, file, problems)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        msg = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        if exc.context_mark is not None and mark is not None and exc.context_mark.line != mark.line:
            msg += f" (the construct starts on line {exc.context_mark.line + 1})"
        raise YamlSyntaxError(Problem(file, line, "", f"malformed YAML: {msg}")) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(Problem(file, None, "", f"malformed YAML: {exc}")) from None
    finally:
        loader.dispose()
    return data, lines, problems


def read_yaml(path: Path) -> tuple[Any, LineMap, list[Problem]]:
    """Read a YAML file; see :func:`read_yaml_text`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlSyntaxError(Problem(str(path), None, "", f"cannot read file: {exc}")) from None
    return read_yaml_text(text, str(path))
