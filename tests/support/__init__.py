"""Helpers the tests import: rows made directly, real processes, run options, browser and video helpers.

They live here, not in a ``conftest.py``: pytest loads a conftest itself, and a test module that imports one
gets a second copy of it (its counters and classes twice over). The conftest files keep the fixtures, which call
these helpers.
"""
