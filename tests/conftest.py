"""Shared pytest configuration. Simulator fixtures live in tests/simulator.py (see docs/architecture.md)."""
