"""Optional dependencies: one helper, an install hint naming the extra."""

from __future__ import annotations

import sys

import pytest

from hepattn._optional import EXTRAS, MissingDependencyError, check_installed, require
from hepattn.errors import HepattnError


@pytest.mark.parametrize("module", sorted(EXTRAS))
def test_missing_module_names_its_extra(monkeypatch, module):
    monkeypatch.setitem(sys.modules, module, None)  # import of it fails
    extra = EXTRAS[module][1]
    with pytest.raises(HepattnError, match=rf"pip install 'hepattn\[{extra}\]'"):
        require(module)


def test_require_returns_the_module_and_checks_without_importing():
    assert require("json").dumps([1]) == "[1]"
    with pytest.raises(MissingDependencyError, match="pip install no_such_module_xyz"):
        check_installed("json", "no_such_module_xyz")
    with pytest.raises(ImportError):  # also an ImportError for callers that expect one
        require("no_such_module_xyz", "testing")
