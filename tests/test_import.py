"""``import loopwatch`` stays light: no DuckDB, Dask, FastAPI or Plotly."""

from __future__ import annotations

import subprocess
import sys

import loopwatch


def test_import_loads_no_heavy_stack() -> None:
    code = (
        "import sys, loopwatch; "
        "print(','.join(m for m in ('duckdb', 'dask', 'fastapi', 'plotly', 'distributed') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_all_is_importable() -> None:
    for name in loopwatch.__all__:
        assert getattr(loopwatch, name) is not None
