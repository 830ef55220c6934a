"""One pytest case per conformance case; the run itself happens once, concurrently."""
import pytest

from cases import CASES
from conftest import conformance_results


@pytest.mark.parametrize("case_id", [c["id"] for c in CASES])
def test_case(case_id):
    r = conformance_results()[case_id]
    assert r["passed"], f"{case_id} ({r['desc']}): {r['why']} | stderr: {r['stderr']}"


def test_every_group_is_covered():
    groups = {c["group"] for c in CASES}
    assert groups == {1, 2, 3, 4, 5, 6, 7, 10}
    assert len(CASES) >= 240
