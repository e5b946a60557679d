"""The packages of app/ import one way: down the declared layers, never up, never in a circle.

Every module is imported (a module that fails to import fails here first) and its imports
are read from its source, lazy ones inside functions included: a lazy import is still a
dependency, only a later one. docs/architecture.md draws the same layers.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import app

# Bottom first. A package may import packages of the layers below its own, never of its own
# layer (siblings stay independent) nor of a layer above. "app" is the package's own
# __init__ (its version).
LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    ("foundation", frozenset({"app", "app.errors", "app.settings", "app.stopwatch"})),
    ("domain types", frozenset({"app.domain"})),
    ("text", frozenset({"app.text"})),
    ("store, embedding, ingest", frozenset({"app.store", "app.embedding", "app.ingest"})),
    ("search", frozenset({"app.search"})),
    ("answer (readers)", frozenset({"app.answer"})),
    ("core: knowledge base and answerer", frozenset({"app.core"})),
    ("the core's facade", frozenset({"app.assistant"})),
    ("evaluation, service records", frozenset({"app.evaluation", "app.access", "app.activity"})),
    ("tuning, the service's holdings", frozenset({"app.tuning", "app.service"})),
    ("wiring", frozenset({"app.wiring"})),
    ("api and web (siblings)", frozenset({"app.api", "app.web"})),
    ("application", frozenset({"app.application"})),
    ("bench", frozenset({"app.bench"})),
    ("command line", frozenset({"app.cli"})),
)
LAYER_OF = {package: n for n, (_, packages) in enumerate(LAYERS) for package in packages}


def modules() -> Iterator[str]:
    yield "app"
    for info in pkgutil.walk_packages(app.__path__, prefix="app."):
        yield info.name


def package_of(module: str) -> str:
    """``app.core.answerer`` → ``app.core``; top-level modules (``app.wiring``) are their own package."""
    return ".".join(module.split(".")[:2])


def _source(module: str) -> tuple[Path, bool]:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None, module
    return Path(spec.origin), spec.submodule_search_locations is not None


def imported(module: str, known: set[str]) -> Iterator[tuple[str, int]]:
    """The app modules ``module`` imports anywhere in its source, with the line of each import."""
    path, is_package = _source(module)
    here = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = here[: len(here) - node.level + 1]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            # "from app import web" imports the module app.web; "from app import __version__" imports app.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            if target == "app" or target.startswith("app."):
                yield target, node.lineno


def private_names(module: str) -> Iterator[tuple[str, str, int]]:
    """Private names (``_x``) that ``module`` takes from another package."""
    path, _ = _source(module)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            source = package_of(node.module)
            if source != package_of(module) and node.module.startswith("app"):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        yield node.module, alias.name, node.lineno


@pytest.fixture(scope="module")
def graph() -> dict[str, dict[str, list[str]]]:
    """package → package it imports → where (module:line), for every import between packages."""
    known = set(modules())
    for name in sorted(known):
        # Importing a __main__ runs its command; Alembic's env script runs migrations and exists
        # only inside Alembic's run (app.store.migrate).
        if not name.endswith((".__main__", ".migrations.env")):
            importlib.import_module(name)  # every module imports cleanly on its own
    edges: dict[str, dict[str, list[str]]] = {}
    for name in sorted(known):
        for target, line in imported(name, known):
            source, dest = package_of(name), package_of(target)
            if source != dest:
                edges.setdefault(source, {}).setdefault(dest, []).append(f"{name}:{line}")
    return edges


def test_every_package_has_a_layer(graph: dict[str, dict[str, list[str]]]) -> None:
    packages = {package_of(m) for m in modules()}
    assert packages - LAYER_OF.keys() == set(), "declare the new package's layer in LAYERS (and docs/architecture.md)"
    assert LAYER_OF.keys() - packages == set(), "a declared package no longer exists"


def test_imports_only_go_down_the_layers(graph: dict[str, dict[str, list[str]]]) -> None:
    upward = [
        f"{source} ({LAYERS[LAYER_OF[source]][0]}) imports {dest} ({LAYERS[LAYER_OF[dest]][0]}) at {', '.join(where)}"
        for source, targets in sorted(graph.items())
        for dest, where in sorted(targets.items())
        if LAYER_OF[dest] >= LAYER_OF[source]
    ]
    assert upward == []


def test_no_cycle_between_packages(graph: dict[str, dict[str, list[str]]]) -> None:
    """Independent of the declared order: a circle is found even if LAYERS were edited to allow it."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(package: str, path: list[str]) -> None:
        state[package] = 1
        for dest in sorted(graph.get(package, {})):
            if state.get(dest) == 1:
                cycles.append([*path[path.index(dest) :], dest] if dest in path else [package, dest])
            elif dest not in state:
                visit(dest, [*path, dest])
        state[package] = 2

    for package in sorted(graph):
        if package not in state:
            visit(package, [package])
    assert cycles == []


def test_no_private_name_crosses_a_package() -> None:
    """Packages use each other's public interfaces: a name with a leading underscore stays home."""
    crossing = [f"{m}:{line} takes {name} from {source}" for m in modules() for source, name, line in private_names(m)]
    assert crossing == []


def test_no_module_over_400_lines() -> None:
    """A module that outgrows this holds more than one thing: split it along what it owns."""
    long = {m: n for m in modules() if (n := _source(m)[0].read_text(encoding="utf-8").count("\n")) > 400}
    assert long == {}
