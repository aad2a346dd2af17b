"""``python -m pinngelu``: the command line of :mod:`pinngelu.cli`."""

from .cli import main

raise SystemExit(main())
