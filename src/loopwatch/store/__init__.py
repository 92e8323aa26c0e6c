"""The run store: every run recorded in an embedded DuckDB file.

Importing this package does not import DuckDB; :class:`RunStore` does, when
opened.
"""

from loopwatch.store.runstore import DEFAULT_STORE_ENV, RunRecord, RunStore, default_store_path

__all__ = ["DEFAULT_STORE_ENV", "RunRecord", "RunStore", "default_store_path"]
