"""The analysis facade: every exported name resolves and is documented."""

from __future__ import annotations

import subprocess
import sys

import loopwatch.analysis as analysis


def test_all_names_resolve_and_have_docstrings() -> None:
    assert len(set(analysis.__all__)) == len(analysis.__all__)
    for name in analysis.__all__:
        obj = getattr(analysis, name)
        if callable(obj) and not isinstance(obj, type | tuple):
            assert obj.__doc__, name


def test_import_loopwatch_stays_light() -> None:
    code = ("import sys, loopwatch; "
            "print(any(m in sys.modules for m in ('scipy', 'networkx', 'loopwatch.analysis')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
