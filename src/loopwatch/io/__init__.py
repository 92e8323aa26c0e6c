"""The only layer that reads files: YAML/CSV loading, validation, bundled books and scenarios."""

from loopwatch.io.books import (
    DEFAULT_BOOK,
    bundled_books,
    bundled_scenarios,
    deal_book_schema,
    dump_deal_book,
    load_deal_book,
    load_scenario,
    scenario_schema,
    write_deal_book,
)
from loopwatch.io.validate import validate_deal_book, validate_scenario

__all__ = [
    "DEFAULT_BOOK",
    "bundled_books",
    "bundled_scenarios",
    "deal_book_schema",
    "dump_deal_book",
    "load_deal_book",
    "load_scenario",
    "scenario_schema",
    "validate_deal_book",
    "validate_scenario",
    "write_deal_book",
]
