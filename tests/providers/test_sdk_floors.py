"""The cloud SDK floors in pyproject.toml are releases the adapter tests actually ran against.

Why: the adapters use SDK features of the releases installed here (the Azure adapter builds models
from dicts, which older azure-mgmt-compute/-network majors refuse). A floor below the tested major
lets pip install an API nobody ran; a floor above what is installed means the tests ran on nothing
the package allows.
"""

from __future__ import annotations

import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
CLOUD_EXTRAS = ("aws", "gcp", "azure")


def _cloud_requirements() -> list[Requirement]:
    extras = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]
    return [Requirement(text) for extra in CLOUD_EXTRAS for text in extras[extra]]


@pytest.mark.parametrize("requirement", _cloud_requirements(), ids=str)
def test_each_cloud_sdk_floor_is_the_tested_release_line(requirement: Requirement) -> None:
    floors = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
    assert floors, f"{requirement}: a cloud SDK needs a floor"
    try:
        installed = Version(version(requirement.name))
    except PackageNotFoundError:
        pytest.skip(f"{requirement.name} is not installed here")
    assert floors[0] <= installed, f"{requirement}: the tests ran on {installed}, below the floor"
    assert floors[0].major == installed.major, (
        f"{requirement}: the tests ran on {installed}; raise the floor to that major release")
