"""Helpers shared by the tests: table readers, ports, the model harness, strategies.

Tests import them as ``from tests.support.<module> import ...``; nothing here is a test.
"""
