"""Tether's dev hub: the server side of ShellHub's device protocol, for tests and demos.

Start it from the Tests/ folder: `python -m hub --port 8080` (see `python -m hub --help`).
"""
