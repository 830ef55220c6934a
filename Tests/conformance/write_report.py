"""Runs every conformance case and writes Tests/conformance/REPORT.md (per group: cases,
passed; then any failing case with the reason). Usage: python3 Tests/conformance/write_report.py"""
import asyncio
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import runner  # noqa: E402


def main():
    t0 = time.monotonic()
    results = asyncio.run(runner.run_all())
    took = time.monotonic() - t0
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=runner.ROOT).stdout.strip()
    except OSError:
        rev = "?"
    lines = ["# WebSocket client conformance report", "",
             "Autobahn|Testsuite client groups 1-7 and 10, re-created as a data table",
             "(`Tests/conformance/cases.py`) and driven by a raw asyncio server",
             "(`Tests/conformance/runner.py`) against `tether ws-echo`.", "",
             f"Commit `{rev}`, binary `{os.path.relpath(runner.tether_bin(), runner.ROOT)}`, "
             f"{len(results)} cases in {took:.1f} s.", "",
             "| group | name | cases | passed |", "|---:|---|---:|---:|"]
    for g, name, n, ok in runner.group_summary(results):
        lines.append(f"| {g} | {name} | {n} | {ok} |")
    total_ok = sum(r["passed"] for r in results)
    lines.append(f"| | **total** | **{len(results)}** | **{total_ok}** |")
    lines += ["", "Judging: `clean` cases need the echoes in order, a close answered with an",
              "allowed code and exit status 0; `fail` cases need the echoes before the fault,",
              "then a close with the RFC's code (1002, or 1007 for UTF-8) or a dropped TCP",
              "connection, and a non-zero exit; fail-fast UTF-8 cases (6.4.x) need the failure",
              "before the rest of the message is sent. 7.13.x (codes 5000/65535) are",
              "informational in Autobahn: any orderly reaction passes (Tether fails with 1002).", ""]
    bad = [r for r in results if not r["passed"]]
    if bad:
        lines += ["## Failing cases", ""]
        for r in bad:
            lines.append(f"- {r['id']} {r['desc']}: {r['why']}")
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "REPORT.md")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{total_ok}/{len(results)} passed; wrote {path}")
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
