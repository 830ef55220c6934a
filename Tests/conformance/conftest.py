import asyncio
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import runner  # noqa: E402

_RESULTS = {}


def conformance_results():
    """All cases run once (concurrently) per pytest session."""
    if not _RESULTS:
        if not os.path.exists(runner.tether_bin()):
            pytest.skip(f"tether binary not found at {runner.tether_bin()} (set TETHER_BIN)")
        for r in asyncio.run(runner.run_all()):
            _RESULTS[r["id"]] = r
    return _RESULTS


def pytest_terminal_summary(terminalreporter):
    if not _RESULTS:
        return
    tr = terminalreporter
    tr.section("WebSocket client conformance (Autobahn groups 1-7, 10)")
    rows = runner.group_summary(list(_RESULTS.values()))
    for g, name, n, ok in rows:
        tr.write_line(f"group {g:>2} {name:<48} {ok:>3}/{n} {'PASS' if ok == n else 'FAIL'}")
    total = len(_RESULTS)
    tr.write_line(f"total {sum(r['passed'] for r in _RESULTS.values())}/{total}")
