"""Command line: list the verification cases and run one.

::

    pinngelu list
    pinngelu run CASE [--device cpu|cuda] [--out DIR] [--seed N] [--max-iter N]
                      [--time-limit S] [other options of the case]
    python -m pinngelu ...            (the same)

Exit status: 0 on success, 2 for a usage error (unknown case or option), 1 when the
run fails (bad input, a missing GPU, an unwritable output folder...).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

__all__ = ["main", "console", "available_cases"]


def available_cases() -> dict[str, str]:
    """The case modules of :mod:`pinngelu.cases` with their one-line descriptions.

    Returns
    -------
    dict
        ``{name: description}`` in alphabetical order.
    """
    from .. import cases

    out = {}
    for info in sorted(pkgutil.iter_modules(cases.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{cases.__name__}.{info.name}")
        if not callable(getattr(mod, "main", None)):
            continue
        doc = (mod.__doc__ or "").strip().splitlines()
        out[info.name] = doc[0].strip() if doc else ""
    return out


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="pinngelu",
        description="Physics-informed neural networks for linear elasticity: run the "
        "verification cases.",
        epilog="Each case writes summary.json, solution.vtu (ParaView) and PNG figures "
        "to its output folder (default out/<case>). 'pinngelu run CASE --help' lists "
        "all options of a case.",
    )
    sub = ap.add_subparsers(dest="command", metavar="{list,run}")
    sub.add_parser("list", help="show the cases, one line each")
    run = sub.add_parser(
        "run",
        help="run one case",
        description="Run one case; options after the case name go to the case "
        "(--device cpu|cuda, --out DIR, --seed N, --max-iter N, --time-limit S, ...).",
        add_help=False,
    )
    run.add_argument("case", nargs="?", help="case name (see 'pinngelu list')")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pinngelu`` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = _parser()
    args, rest = ap.parse_known_args(argv)
    if args.command is None:
        ap.print_help()
        return 2
    if args.command == "list":
        if rest:
            ap.error(f"unrecognized arguments: {' '.join(rest)}")
        cases = available_cases()
        width = max(len(n) for n in cases)
        for name, desc in cases.items():
            print(f"{name:{width}s}  {desc}")
        return 0
    # run
    cases = available_cases()
    if args.case is None or args.case in ("-h", "--help"):
        print("usage: pinngelu run CASE [options of the case]\n\ncases:")
        for name, desc in cases.items():
            print(f"  {name:24s} {desc}")
        return 0 if args.case else 2
    if args.case not in cases:
        print(
            f"pinngelu: unknown case {args.case!r}; choose one of: {', '.join(cases)}",
            file=sys.stderr,
        )
        return 2
    mod = importlib.import_module(f"pinngelu.cases.{args.case}")
    argv0 = sys.argv[0]
    sys.argv[0] = f"pinngelu run {args.case}"  # the case's usage lines name the command
    try:
        mod.main(rest)
    except SystemExit as exc:  # argparse inside the case: --help (0) or a usage error (2)
        return int(exc.code) if isinstance(exc.code, int) else 1
    except (ValueError, RuntimeError, ImportError, OSError) as exc:
        # bad input, a missing GPU or optional package (the message names what to
        # install), an unwritable folder: one line, exit status 1
        print(f"pinngelu: {args.case} failed: {exc}", file=sys.stderr)
        return 1
    finally:
        sys.argv[0] = argv0
    return 0


def console() -> None:
    """Console-script entry point: exit with the status of :func:`main`."""
    raise SystemExit(main())


if __name__ == "__main__":  # pragma: no cover
    console()
