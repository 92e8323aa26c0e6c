"""The ``loopwatch`` command line: a thin Typer app over the Python API.

Each command group lives in its own module and registers itself on
:data:`app`; :func:`main` runs the app and turns every :class:`LoopwatchError`
into one line per problem on stderr with exit status 2, never a traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from loopwatch.errors import LoopwatchError

__all__ = ["app", "console", "err_console", "main"]

app = typer.Typer(
    name="loopwatch",
    help="Map, simulate and stress-test the web of deals financing AI compute.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Map, simulate and stress-test the web of deals financing AI compute."""


console = Console()
err_console = Console(stderr=True)

# Command modules register on ``app`` when imported. To keep start-up light, ``main``
# imports only the module that owns the command typed (all of them for ``--help``).
COMMANDS = {
    "deals": ("deals",), "deals import": ("deals", "importers"), "schema": ("deals",),
    "cycles": ("analysis",), "trace": ("analysis",), "loi": ("analysis",), "warrants": ("analysis",),
    "simulate": ("simulate",),
    "minsky": ("answers",), "ponzi-test": ("answers",), "break-even": ("answers",),
    "amplification": ("answers",), "stress": ("answers",), "counterfactual": ("answers",),
    "run": ("run",), "runs": ("runs",),
}
MODULES = ("deals", "importers", "analysis", "simulate", "answers", "run", "runs")


def register(command: str | None = None) -> None:
    """Import the command modules that ``command`` needs (every module when None)."""
    import importlib

    for name in COMMANDS.get(command or "", MODULES):
        importlib.import_module(f"loopwatch.cli.{name}")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status (0 ok, 1 failure, 2 invalid input)."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        command = args[0] if args and not args[0].startswith("-") else None
        if command == "deals" and (len(args) < 2 or args[1] in ("import", "--help")):
            command = "deals import"  # the import subcommand lives in its own module
        register(command)
        app(args=args, prog_name="loopwatch")  # standalone: usage errors exit 2 by themselves
    except LoopwatchError as exc:
        for line in str(exc).splitlines():
            err_console.print(line, markup=False, highlight=False, soft_wrap=True)
        return 2
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


def entry() -> None:
    """Console-script entry point.

    BLAS runs on one thread unless the environment says otherwise: the
    engine's many small matrix products run 2–3× slower with OpenBLAS's
    thread pool (10,000 paths of ``ai-compute-2025``: 4.8 s against 13.1 s
    on 2 cores). It must be set before numpy loads, which no command module
    does at import.
    """
    import os

    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    entry()
