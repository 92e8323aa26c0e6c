"""Loading and writing deal books and scenarios, bundled or from files."""

from __future__ import annotations

import json
import os
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from loopwatch.errors import DealBookError, Problem, ScenarioError
from loopwatch.io.validate import validate_deal_book, validate_scenario
from loopwatch.io.yamlfile import YamlSyntaxError, read_yaml, read_yaml_text
from loopwatch.model import DealBook, Scenario

__all__ = [
    "DEFAULT_BOOK",
    "bundled_books",
    "bundled_scenarios",
    "deal_book_schema",
    "dump_deal_book",
    "load_deal_book",
    "load_scenario",
    "scenario_schema",
    "write_deal_book",
]

DEFAULT_BOOK = "ai-compute-2025"


def _bundled(kind: str) -> dict[str, Any]:
    root = resources.files("loopwatch") / "data" / kind
    return {p.name.removesuffix(".yaml"): p for p in root.iterdir() if p.name.endswith(".yaml")}


def bundled_books() -> list[str]:
    """Names of the deal books shipped with loopwatch."""
    return sorted(_bundled("books"))


def bundled_scenarios() -> list[str]:
    """Names of the scenarios shipped with loopwatch, in a stable order."""
    order = ["base", "bull", "bear", "adoption-stall", "credit-crunch", "loi-collapse"]
    names = _bundled("scenarios")
    return [n for n in order if n in names] + sorted(set(names) - set(order))


def _read(name_or_path: str | os.PathLike[str], kind: str, err: type[DealBookError]) -> tuple[Any, Any, list[Problem], str]:
    text_path = str(name_or_path)
    bundled = _bundled(kind)
    if text_path in bundled and not Path(text_path).exists():
        res = bundled[text_path]
        label = f"{text_path}.yaml"
        try:
            data, lines, problems = read_yaml_text(res.read_text(encoding="utf-8"), label)
        except YamlSyntaxError as exc:
            raise err(exc.problem) from None
        return data, lines, problems, label
    path = Path(text_path)
    if not path.exists():
        known = ", ".join(sorted(bundled))
        raise err(Problem(text_path, None, "", f"no such file, and not a bundled name (bundled: {known})"))
    try:
        data, lines, problems = read_yaml(path)
    except YamlSyntaxError as exc:
        raise err(exc.problem) from None
    return data, lines, problems, text_path


def load_deal_book(name_or_path: str | os.PathLike[str] = DEFAULT_BOOK) -> DealBook:
    """Load and validate a deal book: a bundled name (``"ai-compute-2025"``) or a YAML path.

    Raises
    ------
    DealBookError
        With every problem, one per line, as ``FILE:LINE: dotted.path: message``.

    Examples
    --------
    >>> book = load_deal_book("three-party-loop")
    >>> book.name, len(book.contracts) > 0
    ('three-party-loop', True)
    """
    data, lines, problems, label = _read(name_or_path, "books", DealBookError)
    return validate_deal_book(data, file=label, lines=lines, problems=problems)


def load_scenario(name_or_path: str | os.PathLike[str] = "base") -> Scenario:
    """Load and validate a scenario: a bundled name (``"base"``) or a YAML path.

    Raises
    ------
    ScenarioError
        With every problem, one per line.
    """
    data, lines, problems, label = _read(name_or_path, "scenarios", ScenarioError)
    return validate_scenario(data, file=label, lines=lines, problems=problems)


def dump_deal_book(book: DealBook) -> str:
    """The deal book as YAML text (defaults omitted); :func:`load_deal_book` reads it back equal."""
    data = book.model_dump(mode="json", exclude_defaults=True)
    data = {"name": data.pop("name"), **data}
    if book.contracts:  # the discriminator is a default, but the file must say it
        data["contracts"] = [
            {"id": c.id, "type": c.type.value, **{k: v for k, v in d.items() if k != "id"}}
            for c, d in zip(book.contracts, data["contracts"], strict=True)
        ]
    for key in ("start", "horizon"):  # always explicit
        data[key] = str(getattr(book, key))
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def write_deal_book(book: DealBook, path: str | os.PathLike[str]) -> None:
    """Write a deal book atomically (a temp file renamed over the target)."""
    target = Path(path)
    text = dump_deal_book(book)
    fd, tmp = tempfile.mkstemp(dir=target.parent or Path("."), suffix=".yaml.tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def deal_book_schema() -> str:
    """JSON Schema of the deal-book format, for editors (YAML language servers)."""
    schema = DealBook.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "loopwatch deal book"
    return json.dumps(schema, indent=2)


def scenario_schema() -> str:
    """JSON Schema of the scenario format."""
    schema = Scenario.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "loopwatch scenario"
    return json.dumps(schema, indent=2)
