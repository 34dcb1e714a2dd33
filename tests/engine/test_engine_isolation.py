"""The engine package must not depend on Django or anything outside the stdlib."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import matching.engine

PACKAGE_DIR = Path(matching.engine.__file__).resolve().parent
ROOT = PACKAGE_DIR.parents[1]
FORBIDDEN = {"django", "rest_framework", "channels", "celery"}
ALLOWED_THIRD_PARTY = {"sortedcontainers"}


def _imports(source: str, package: list[str]) -> list[tuple[int, str]]:
    """(line, absolute module name) for every import in ``source``; relative ones are resolved."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - (node.level - 1)] if node.level else []
            if node.module:
                found.append((node.lineno, ".".join(base + [node.module])))
            else:  # from . import x  ->  package.x
                found.extend((node.lineno, ".".join(base + [alias.name])) for alias in node.names)
        elif isinstance(node, ast.Call):
            func = node.func
            called = getattr(func, "id", None) or getattr(func, "attr", None)
            if called in ("__import__", "import_module"):
                found.append((node.lineno, "<dynamic import>"))
    return found


def _package_of(path: Path) -> list[str]:
    return list(path.relative_to(ROOT).parts[:-1])


def _violations(imports: list[tuple[int, str]]) -> list[str]:
    bad = []
    for line, name in imports:
        top = name.split(".")[0]
        ok = (
            name == "matching.engine"
            or name.startswith("matching.engine.")
            or top in sys.stdlib_module_names
            or top in ALLOWED_THIRD_PARTY
        )
        if top in FORBIDDEN or not ok:
            bad.append(f"{line}: imports {name}")
    return bad


def test_package_has_modules():
    modules = sorted(PACKAGE_DIR.rglob("*.py"))
    assert {p.name for p in modules} >= {"__init__.py", "book.py", "events.py", "bench.py"}


def test_engine_imports_only_stdlib_and_itself():
    bad = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        imports = _imports(path.read_text(), _package_of(path))
        bad.extend(f"{path.relative_to(ROOT)}:{v}" for v in _violations(imports))
    assert not bad, "engine must stay framework-free:\n" + "\n".join(bad)


def test_import_checker_catches_forbidden_imports():
    """The checker itself works on the kinds of import a regression would add."""
    source = (
        "from django.db import models\n"
        "import rest_framework.serializers\n"
        "from channels.layers import get_channel_layer\n"
        "import celery\n"
        "import numpy\n"
        "from .. import models\n"
        "importlib.import_module('django')\n"
        "import collections, bisect\n"
        "from . import events\n"
        "from sortedcontainers import SortedList\n"
    )
    bad = _violations(_imports(source, ["matching", "engine"]))
    assert [b.split(": imports ")[1] for b in bad] == [
        "django.db",
        "rest_framework.serializers",
        "channels.layers",
        "celery",
        "numpy",
        "matching.models",
        "<dynamic import>",
    ]


def test_importing_engine_loads_no_framework():
    code = (
        "import sys, matching.engine, matching.engine.bench\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {sorted(FORBIDDEN)!r})\n"
        "print(','.join(bad))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
