"""e2e fixtures: real Docker labs. Every lab a test makes is removed, even on failure,
and each test checks that nothing with its lab's label is left behind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import images, runtime

ROOT = Path(__file__).resolve().parents[2]
TOPOLOGIES = ROOT / "topologies"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def node_image() -> str:
    """Built once per session (the first build on a fresh machine takes a few minutes)."""
    return images.ensure_node(progress=lambda s: print(s, flush=True))


@pytest.fixture
def lab_names() -> Iterator[list[str]]:
    """Tests append the lab names they use; afterwards each is removed and checked gone."""
    names: list[str] = []
    yield names
    left = []
    for name in names:
        runtime.down(name)
        left += runtime.leftovers(name)
    assert not left, f"leftovers: {left}"
