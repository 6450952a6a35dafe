"""environment.yml, pyproject.toml and requirements.lock describe one environment."""
from __future__ import annotations

import os
import re

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PIN = re.compile(r"^\s*-?\s*([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.]+)")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pyproject_pins() -> dict[str, str]:
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as fh:
        project = tomllib.load(fh)["project"]
    pins = {}
    for dep in project["dependencies"] + project["optional-dependencies"]["test"]:
        if "platform_machine != 'x86_64'" in dep:
            continue  # the non-x86 twin of tensorflow-cpu
        m = PIN.match(dep.split(";")[0])
        assert m, f"pyproject dependency not pinned with ==: {dep}"
        pins[_norm(m.group(1))] = m.group(2)
    return pins


def _environment_pins() -> dict[str, str]:
    pins = {}
    for line in open(os.path.join(REPO, "environment.yml"), encoding="utf-8"):
        m = PIN.match(line)
        if m:
            pins[_norm(m.group(1))] = m.group(2)
    return pins


def test_environment_yml_pins_match_pyproject():
    assert _environment_pins() == _pyproject_pins()


def test_lock_file_agrees_with_pyproject():
    lock = {}
    for line in open(os.path.join(REPO, "requirements.lock"), encoding="utf-8"):
        m = PIN.match(line)
        if m:
            lock[_norm(m.group(1))] = m.group(2)
    for name, version in _pyproject_pins().items():
        assert lock.get(name) == version, f"{name}: pyproject {version}, lock {lock.get(name)}"


def test_installed_versions_are_the_pinned_ones():
    from importlib.metadata import PackageNotFoundError, version

    for name, pinned in _pyproject_pins().items():
        try:
            assert version(name) == pinned, f"{name} {version(name)} installed, {pinned} pinned"
        except PackageNotFoundError:
            raise AssertionError(f"{name} is pinned but not installed: run `make setup`") from None
