"""Settings package: base, local, test, production (see base.py)."""
