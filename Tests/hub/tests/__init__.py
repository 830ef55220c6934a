"""Tests of the dev hub (a package so its conftest is not a top-level `conftest` module)."""
