"""The library's layers, read from its import graph (``ast``, nothing is imported).

Imports point one way (docs/architecture.md)::

    base modules -> abc/_model -> triggers, heap, graph, clock, stores -> _core
        -> scheduler, pipeline -> journals -> facades, CLI, dashboard, integrations

A module may import from its own layer or a lower one, never from a higher one; no cycle; no
import inside a function to dodge one. Imports under ``if TYPE_CHECKING:`` never run, so they
cannot make a cycle; they are left out. Importing a submodule runs its package's
``__init__`` first, so a package counts as imported by each of its submodules' importers.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "asyncron"

# (layer, module-name prefixes); a module belongs to the layer of its longest matching prefix
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "base",
        (
            "asyncron.errors",
            "asyncron._tz",
            "asyncron._faults",
            "asyncron._heap",
            "asyncron._graph",
            "asyncron._refs",
            "asyncron._crypto",
            "asyncron._events",
            "asyncron._apscheduler_hints",
        ),
    ),
    ("contracts", ("asyncron.abc", "asyncron._model")),
    (
        "parts",
        (
            "asyncron.triggers",
            "asyncron._clock",
            "asyncron.testing",
            "asyncron._serialize",
            "asyncron._misfire",
            "asyncron._stored",
            "asyncron._dispatch",
            "asyncron._listing",
            "asyncron._shorthand",
            "asyncron.stores",
        ),
    ),
    ("core", ("asyncron._core",)),
    ("engine", ("asyncron._scheduler", "asyncron._pipeline")),
    (
        "journals",
        ("asyncron._persistence", "asyncron._cluster", "asyncron._journal"),
    ),
    (
        "outer",
        (
            "asyncron._sync",
            "asyncron._loop_thread",
            "asyncron._persistent",
            "asyncron._demo",
            "asyncron.cli",
            "asyncron.__main__",
            "asyncron.dashboard",
            "asyncron.integrations",
            "asyncron.events",
            "asyncron.pytest_plugin",
            "asyncron.compat",
            "asyncron",  # the package itself: public re-exports
        ),
    ),
]
RANK = {name: i for i, (name, _) in enumerate(LAYERS)}

# Where an import inside a function is fine: only to keep an optional dependency optional.
# `asyncron run` imports the aiohttp integration only for an aiohttp app; the dashboard package
# imports its Starlette app only when asked for it (aiohttp users need not install Starlette).
LAZY_OK: dict[str, set[str] | None] = {
    "asyncron.cli._target": {"asyncron.integrations", "asyncron.integrations.aiohttp"},
    "asyncron.dashboard": {"asyncron.dashboard._starlette"},
}

# An import by name (``importlib.import_module("asyncron...")``) is an import too and is checked
# like one. One is allowed to point up, and left out of the graph: ``asyncron.stores`` offers
# the journal's ``StoreJournal`` to users (PEP 562 ``__getattr__``) and looks it up only when it
# is first asked for, so the stores never need the journal to load or to work.
LATE_REEXPORTS: set[tuple[str, str]] = {("asyncron.stores", "asyncron._persistence")}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _layer(module: str) -> str:
    best: tuple[int, str] | None = None
    for name, prefixes in LAYERS:
        for prefix in prefixes:
            matches = module == prefix or module.startswith(prefix + ".")
            if matches and (best is None or len(prefix) > best[0]):
                best = (len(prefix), name)
    assert best is not None, f"{module} is in no layer: add it to LAYERS in {__file__}"
    return best[1]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _is_import_module(call: ast.Call) -> bool:
    """``importlib.import_module("asyncron...")`` or ``import_module("asyncron...")``."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return (
        name == "import_module"
        and bool(call.args)
        and isinstance(call.args[0], ast.Constant)
        and isinstance(call.args[0].value, str)
        and call.args[0].value.startswith("asyncron")
    )


def _imports(module: str) -> list[tuple[str, int, bool]]:
    """(imported asyncron module, line, inside a function) for every import that runs."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, int, bool]] = []

    def add(target: str, line: int, lazy: bool) -> None:
        if not target.startswith("asyncron"):
            return
        while target not in MODULES and "." in target:
            target = target.rpartition(".")[0]
        # importing a.b.c runs a/__init__ and a/b/__init__ first
        parts = target.split(".")
        for i in range(2, len(parts) + 1):
            name = ".".join(parts[:i])
            if name in MODULES and name != module and not module.startswith(name + "."):
                found.append((name, line, lazy))

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    visit(sub, lazy)
                continue
            inner = lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                for alias in child.names:
                    candidate = f"{target}.{alias.name}"
                    add(candidate if candidate in MODULES else target, child.lineno, lazy)
            elif isinstance(child, ast.Import):
                for alias in child.names:
                    add(alias.name, child.lineno, lazy)
            elif isinstance(child, ast.Call) and _is_import_module(child):
                target = child.args[0].value  # type: ignore[attr-defined]
                if (module, target) not in LATE_REEXPORTS:
                    add(target, child.lineno, True)
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


GRAPH = {module: _imports(module) for module in MODULES}


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        _layer(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module: str) -> None:
    here = _layer(module)
    upward = [
        f"line {line}: {target} ({_layer(target)})"
        for target, line, _ in GRAPH[module]
        if RANK[_layer(target)] > RANK[here]
    ]
    assert upward == [], f"{module} ({here}) imports from a higher layer: {upward}"


def test_no_import_cycle() -> None:
    edges = {m: {t for t, _, _ in GRAPH[m]} for m in MODULES}
    done: set[str] = set()
    path: list[str] = []

    def walk(module: str) -> None:
        if module in path:
            cycle = [*path[path.index(module) :], module]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if module in done:
            return
        path.append(module)
        for target in sorted(edges[module]):
            walk(target)
        path.pop()
        done.add(module)

    for module in sorted(MODULES):
        walk(module)


def _lazy_ok(module: str, target: str) -> bool:
    if module not in LAZY_OK:
        return False
    allowed = LAZY_OK[module]
    return allowed is None or target in allowed


def test_no_asyncron_import_inside_a_function() -> None:
    lazy = [
        f"{module} line {line}: {target}"
        for module in sorted(MODULES)
        for target, line, inside in GRAPH[module]
        if inside and not _lazy_ok(module, target)
    ]
    assert lazy == [], "imports inside functions (move them to the top of the module): " + (
        "; ".join(lazy)
    )


def test_the_core_imports_nothing_above_it() -> None:
    core = [m for m in MODULES if _layer(m) == "core"]
    assert len(core) >= 8  # state, base, rules, dispatch, runner, executors, outcomes, deps, ...
    for module in core:
        for target, line, _ in GRAPH[module]:
            assert RANK[_layer(target)] <= RANK["core"], f"{module} line {line}: {target}"


def test_imports_by_name_are_seen_and_the_late_reexport_is_still_needed() -> None:
    """An ``import_module("asyncron...")`` call cannot slip past the checks above, and the one
    allowed exception is not stale."""
    for module, target in LATE_REEXPORTS:
        text = MODULES[module].read_text(encoding="utf-8")
        assert f'import_module("{target}")' in text, (module, target)
    probe = ast.parse('def f():\n    importlib.import_module("asyncron._scheduler")\n')
    calls = [n for n in ast.walk(probe) if isinstance(n, ast.Call) and _is_import_module(n)]
    assert len(calls) == 1


def _exception_classes(tree: ast.AST) -> list[tuple[str, int]]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            bases = [ast.unparse(b).split("[")[0] for b in node.bases]  # (ExceptionGroup[...])
            if any(b.endswith(("Error", "Exception", "ExceptionGroup")) for b in bases):
                names.append((node.name, node.lineno))
    return names


def test_every_error_class_is_defined_in_errors_py() -> None:
    """One error tree: an exception class defined anywhere but ``asyncron.errors`` (and
    re-exported from there) would split it."""
    elsewhere = [
        f"{module} line {line}: {name}"
        for module, path in sorted(MODULES.items())
        if module != "asyncron.errors"
        for name, line in _exception_classes(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert elsewhere == [], elsewhere
