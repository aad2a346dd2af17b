"""``python -m pinngelu``: the command line of :mod:`pinngelu.app.cli`."""

from .app.cli import main

raise SystemExit(main())
