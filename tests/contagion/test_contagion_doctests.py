"""The numpydoc Examples of every contagion module run as doctests."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "loopwatch.contagion._validate",
    "loopwatch.contagion.cascade",
    "loopwatch.contagion.clearing",
    "loopwatch.contagion.debtrank",
    "loopwatch.contagion.reference",
]


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0 or name.endswith("_validate")


def test_import_is_light() -> None:
    # beyond numpy and scipy (and their private extension modules, "_*"),
    # loopwatch.contagion pulls in only the standard library
    import subprocess
    import sys

    code = (
        "import sys, loopwatch; before = set(sys.modules); import loopwatch.contagion; "
        "new = {m.split('.')[0] for m in set(sys.modules) - before}; "
        "print(sorted(m for m in new if m not in sys.stdlib_module_names "
        "and not m.startswith('_') and m not in ('numpy', 'scipy', 'loopwatch', 'cython_runtime')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
