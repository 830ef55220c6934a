"""End-to-end tests (a package so its conftest is not a top-level `conftest` module)."""
