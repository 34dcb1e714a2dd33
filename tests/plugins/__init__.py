"""Fixtures shared across test directories, registered once through ``pytest_plugins`` in tests/conftest.py.

A fixture needed by more than one directory lives here instead of being imported
from another directory's conftest (which pytest would register twice).
"""
