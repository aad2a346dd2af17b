"""Verification cases of linear elasticity, each a runnable script and an importable
module (installed as :mod:`pinngelu.cases`).

Every case module defines ``main(argv) -> dict`` (the summary it writes to
``summary.json``) and a one-line description in its docstring.
"""
