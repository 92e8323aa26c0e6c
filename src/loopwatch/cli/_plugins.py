"""Imports the command modules of the other layers so they register on the app.

Each module is owned by its layer (analysis, engine, answers, run, store);
keep this list in the order the help should show them.
"""

from __future__ import annotations

import importlib

for _name in ("importers", "analysis", "simulate", "answers", "run", "runs"):
    try:
        importlib.import_module(f"loopwatch.cli.{_name}")
    except ModuleNotFoundError as _exc:  # a layer not written yet
        if _exc.name != f"loopwatch.cli.{_name}":
            raise
