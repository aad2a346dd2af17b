"""The application layer: the case runner shared by the case scripts
(:mod:`.runner`: options, training, the standard outputs) and the ``pinngelu`` command
(:mod:`.cli`)."""
