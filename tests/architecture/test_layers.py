"""The apps form layers: a module imports only from its own app or from lower ones.

The order, lowest first, is the one docs/ARCHITECTURE.md draws. Every import in every
non-migration module counts, at module level and inside functions alike (a
function-level import that dodges a dependency is still a dependency). The ground floor,
``exchange_site``, imports no app at all outside its wiring modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Lowest first. A new feature app goes above the apps it uses.
LAYERS = (
    "exchange_site",
    "accounts",
    "markets",
    "wallets",
    "trading",
    "matching",
    "realtime",
    "apikeys",
    "binance_api",
    "status",
    "backoffice",
    "tools",
)
RANK = {app: rank for rank, app in enumerate(LAYERS)}

# The ground floor's wiring: settings name every app, urls include every app's urls, and
# asgi/wsgi/celery start the whole project.
WIRING = {f"exchange_site.{name}" for name in ("settings", "urls", "asgi", "wsgi", "celery")}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str, module: str, *, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``source``, relative ones resolved."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - (node.level - 1)] if node.level else []
            if node.module:
                found.append((node.lineno, ".".join([*base, node.module])))
            else:  # from . import x  ->  package.x
                found.extend((node.lineno, ".".join([*base, alias.name])) for alias in node.names)
    return found


def violations(module: str, imports: list[tuple[int, str]]) -> list[str]:
    """Imports of ``module`` that point to a higher app (or, on the ground floor, to any app)."""
    app = module.split(".")[0]
    if app not in RANK or module in WIRING:
        return []
    bad = []
    for line, name in imports:
        target = name.split(".")[0]
        if target not in RANK or target == app or RANK[target] < RANK[app]:
            continue
        bad.append(f"{module}:{line} imports {name} ({app} sits below {target})")
    return bad


def project_modules() -> list[Path]:
    paths = []
    for app in LAYERS:
        if (ROOT / app).is_dir():
            paths.extend(p for p in sorted((ROOT / app).rglob("*.py")) if "migrations" not in p.parts)
    return paths


def test_the_layers_cover_every_app_of_the_project():
    """A new app must be given its place in ``LAYERS`` (the test cannot guess it)."""
    apps = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file() and p.name not in ("tests", "docs")}
    assert apps <= set(LAYERS), f"apps without a layer: {sorted(apps - set(LAYERS))}"


def test_no_module_imports_a_higher_app():
    bad = []
    for path in project_modules():
        module = _module_name(path)
        found = imports_of(path.read_text(), module, is_package=path.name == "__init__.py")
        bad.extend(violations(module, found))
    assert not bad, "imports against the layers (see docs/ARCHITECTURE.md):\n" + "\n".join(bad)


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("wallets.services", "from trading.services import order_place\n", ["trading.services"]),
        ("wallets.services", "def f():\n    from matching import wakeup\n", ["matching"]),
        ("wallets.services", "import realtime.publish\n", ["realtime.publish"]),
        ("markets.selectors", "from ..wallets import models\n", ["wallets"]),
        ("exchange_site.api", "from accounts.models import User\n", ["accounts.models"]),
        ("exchange_site.settings", "from accounts import roles\n", []),
        ("wallets.services", "from markets.models import Market\nfrom . import models\nimport django\n", []),
        ("tools.harness", "from realtime import hub\nfrom matching import runner\n", []),
    ],
)
def test_the_checker_catches_upward_imports_wherever_they_are(module, source, expected):
    found = violations(module, imports_of(source, module))
    assert [v.split(" imports ")[1].split(" ")[0] for v in found] == expected
