"""Helpers shared by the tests (not fixtures: those live in tests/conftest.py)."""
