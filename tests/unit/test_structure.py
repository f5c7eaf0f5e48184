"""The package layout's rules, checked on the source (issue 12's "done when").

- no module imports a private name or a private module (``_x``) from outside its own package
  (siblings inside one package may share a ``_module``);
- ``ari_app`` is telephony and dialing only: it imports neither jinja2 nor ``web``, and
  ``ari_app/adapters/`` holds only the dialer's two CRM port adapters;
- nothing imports ``web`` but ``web`` itself (and the tests);
- no module outside ``crm`` queries the CRM's tables (imports ``crm.db``);
- ``bench`` imports nothing from ``tests``; the shipped packages never import pytest.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ari_app", "crm", "predictive", "web")
TREES = (*PACKAGES, "tests", "bench")


def _modules(*trees: str) -> Iterator[tuple[str, Path]]:
    for tree in trees:
        for path in sorted((ROOT / tree).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join(parts), path


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _imports(module: str, path: Path) -> Iterator[tuple[int, str, str | None]]:
    """(line, imported module, imported name or None) for every import, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _package_of(module, path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield node.lineno, base, alias.name


def _inside(package: str, target_package: str) -> bool:
    return package == target_package or package.startswith(target_package + ".")


def _check(offences: list[str]) -> None:
    assert not offences, "\n".join(sorted(set(offences)))


def _private_holder(dotted: str) -> str | None:
    """The package holding the first private module of ``dotted`` (None: nothing private)."""
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:i])
    return None


def _is_package(dotted: str) -> bool:
    return (ROOT / dotted.replace(".", "/") / "__init__.py").exists()


def test_given_every_module_when_parsed_then_no_private_name_is_imported_across_packages() -> None:
    offences = []
    for module, path in _modules(*TREES):
        package = _package_of(module, path)
        where = f"{path.relative_to(ROOT)}:"
        for line, target, name in _imports(module, path):
            holder = _private_holder(target)
            if holder is not None and not _inside(package, holder):
                offences.append(f"{where}{line} imports the private module {target}")
            if name and name.startswith("_") and not name.startswith("__"):
                home = target if _is_package(target) else target.rpartition(".")[0]
                if home != package:
                    offences.append(f"{where}{line} imports the private {name} from {target}")
    _check(offences)


def test_given_ari_app_when_parsed_then_it_imports_no_web_shell() -> None:
    offences = []
    for module, path in _modules("ari_app"):
        for line, target, _name in _imports(module, path):
            top = target.split(".")[0]
            if top in ("jinja2", "web"):
                offences.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    _check(offences)


def test_given_ari_app_adapters_when_listed_then_only_the_two_crm_port_adapters() -> None:
    names = sorted(p.name for p in (ROOT / "ari_app" / "adapters").glob("*.py"))
    assert names == ["__init__.py", "crm_http.py", "crm_local.py"]


def test_given_shipped_packages_when_parsed_then_nothing_but_web_imports_web() -> None:
    offences = []
    for module, path in _modules("ari_app", "crm", "predictive"):
        for line, target, _name in _imports(module, path):
            if target.split(".")[0] == "web":
                offences.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    _check(offences)


def test_given_modules_outside_crm_when_parsed_then_none_queries_the_crm_tables() -> None:
    offences = []
    for module, path in _modules("ari_app", "predictive", "web"):
        for line, target, _name in _imports(module, path):
            if target == "crm.db" or target.startswith("crm.db."):
                offences.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    _check(offences)


def test_given_bench_and_packages_when_parsed_then_no_tests_nor_pytest_imported() -> None:
    offences = []
    for module, path in _modules(*PACKAGES, "bench"):
        for line, target, _name in _imports(module, path):
            top = target.split(".")[0]
            if top == "tests" or (top == "pytest" and not module.startswith("bench")):
                offences.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    _check(offences)


def test_given_tests_when_parsed_then_none_imports_another_test_module() -> None:
    """Fakes and rigs live in helper modules (``tests/helpers/``, conftest), not in test files."""
    offences = []
    for module, path in _modules("tests", "bench"):
        for line, target, _name in _imports(module, path):
            if target.startswith("tests.") and target.split(".")[-1].startswith("test_"):
                offences.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    _check(offences)


# Import cycles still allowed (each a sorted tuple of the modules of one strongly connected
# component, with why it stays); empty: none is.
ALLOWED_CYCLES: set[tuple[str, ...]] = set()


def _import_graph() -> dict[str, set[str]]:
    """Module -> the modules of ``PACKAGES`` it imports, counting every import statement
    (inside functions and under ``if TYPE_CHECKING:`` too: a lazy import hides a cycle, it
    does not break it). ``from pkg import name`` is an edge to ``pkg.name`` when that is a
    module, else to ``pkg``."""
    modules = dict(_modules(*PACKAGES))
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for _line, target, name in _imports(module, path):
            child = f"{target}.{name}" if name else None
            found = child if child in modules else target if target in modules else None
            if found is not None and found != module:
                graph[module].add(found)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[tuple[str, ...]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            child = next(edges, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(tuple(sorted(component)))
    return found


def test_given_every_package_when_imports_graphed_then_no_cycle() -> None:
    """No import cycle in ari_app, crm, predictive or web, lazy or ``TYPE_CHECKING`` imports
    included: shared types live in a module both sides import, or a protocol is passed."""
    graph = _import_graph()
    assert "ari_app.dialer.engine" in graph["web.main"], "the graph misses imports"
    cycles = [c for c in _cycles(graph) if c not in ALLOWED_CYCLES]
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_given_a_known_cycle_when_graphed_then_it_is_found() -> None:
    """The cycle finder itself: a lazy import that closes a loop counts."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [("a", "b", "c")]
