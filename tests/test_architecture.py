"""The shape of the house: imports run one way, no cycles, one grammar module, small modules and functions."""
from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("kb", "ingest", "bot", "evals")
LAYER = {"kb": 0, "ingest": 1, "bot": 2, "evals": 3}
# The one permitted upward reference: the CLI registers the eval commands that evals defines.
PERMITTED_UPWARD = {("bot.cli", "evals.cli")}
MAX_MODULE_LINES = 500
# A regular expression spelling 第…条 / 第…款 / 第…项 with a numeral class: the grammar module's job alone.
GRAMMAR_COPY = re.compile(r"第[^\"'\n]{0,40}(?:NUMERAL|一二三|\\d|0-9)[^\"'\n]{0,40}[条款项]")
MAX_FUNCTION_LINES = 60


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Return the project modules that ``name`` imports, at any depth of the file (lazy imports count)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)
    return {t for t in targets if t in known and t != name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_import_walker_sees_relative_and_lazy_imports():
    graph = _graph()
    assert "kb.grammar" in graph["kb.query"]  # from .grammar import …
    assert "ingest.pipeline" in graph["bot.cli"]  # imported inside a function


def test_no_import_cycle_between_modules():
    assert _cycle(_graph()) is None, f"import cycle: {' → '.join(_cycle(_graph()) or ())}"


def test_no_import_cycle_between_packages():
    graph = _graph()
    edges = {(a.split(".")[0], b.split(".")[0]) for a, targets in graph.items() for b in targets
             if (a, b) not in PERMITTED_UPWARD}
    package_graph = {p: {b for a, b in edges if a == p and b != p} for p in PACKAGES}
    assert _cycle(package_graph) is None


def test_imports_run_one_way():
    upward = sorted((a, b) for a, targets in _graph().items() for b in targets
                    if LAYER[b.split(".")[0]] > LAYER[a.split(".")[0]] and (a, b) not in PERMITTED_UPWARD)
    assert upward == []


def test_article_grammar_lives_in_one_module():
    offenders = []
    for name, path in _modules().items():
        if name == "kb.grammar":
            continue
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "re.compile" in line or "rf\"" in line or "r\"" in line:
                if GRAMMAR_COPY.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{lineno}")
    assert offenders == []


@pytest.mark.parametrize("line, copy", [
    ('ARTICLE = re.compile(rf"第({NUMERAL})条")', True),
    ('CLAUSE = re.compile(r"第[一二三四五六七八九十]+款")', True),
    ('ITEM = re.compile(r"第\\d+项")', True),
    ('TITLE = re.compile(r"(条例|细则)$")', False),
])
def test_the_grammar_check_finds_a_copy_and_nothing_else(line, copy):
    assert bool(GRAMMAR_COPY.search(line)) is copy


def test_modules_and_functions_stay_small():
    too_long = []
    for name, path in _modules().items():
        source = path.read_text(encoding="utf-8")
        if len(source.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"{name}: {len(source.splitlines())} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}.{node.name}: {length} lines")
    assert too_long == []


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_exports_what_others_use(package):
    module = importlib.import_module(package)
    exported = set(getattr(module, "__all__", ()))
    assert exported, f"{package}/__init__.py has no __all__"
    for name in exported:
        assert importlib.util.find_spec(f"{package}.{name}") is not None, f"{package}.__all__ names {name}"
    used = {b.split(".")[1] for a, targets in _graph().items() for b in targets
            if b.startswith(package + ".") and not a.startswith(package)}
    assert used <= exported, f"{package}: used from outside but not exported: {sorted(used - exported)}"


def _rebound(source: str) -> list[str]:
    """Return the names a module's top level binds more than once (a constant defined again shadows the first)."""
    seen: set[str] = set()
    again = []
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = [node.name]
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
        else:
            continue
        again += [n for n in names if n in seen]
        seen.update(names)
    return again


def test_no_module_binds_a_top_level_name_twice():
    rebound = {name: names for name, path in _modules().items()
               if (names := _rebound(path.read_text(encoding="utf-8")))}
    assert rebound == {}


@pytest.mark.parametrize("source, names", [
    ('_ISSUED = re.compile("a")\ndef f(): pass\n_ISSUED = re.compile("b")\n', ["_ISSUED"]),
    ('A = 1\ndef a(): pass\nclass B: pass\n', []),
])
def test_the_rebinding_check_finds_a_second_binding(source, names):
    assert _rebound(source) == names
