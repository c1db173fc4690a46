"""Analysis tests: skip the ``slow`` calibration sweep unless SUPERIONIC_SLOW=1 or a ``-m`` expression asks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("SUPERIONIC_SLOW") == "1" or config.getoption("-m"):
        return
    skip = pytest.mark.skip(reason="slow calibration sweep; set SUPERIONIC_SLOW=1 or pass -m slow")
    for item in items:
        if "slow" in item.keywords and HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(skip)
