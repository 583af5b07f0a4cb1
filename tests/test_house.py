"""The house rules of docs/architecture.md that import-linter's contracts do not say module by
module: no import cycle between any two modules, and no project import hidden in a function."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

PACKAGES = ("bot", "ingest", "scoring", "storage")
# Late imports with a reason written where they are; none may dodge a cycle (the cycle test
# sees them too).
# bot/cli.py: start-up time of `leadbot ingest`, run per message by Postfix: each command loads its
# own parts (the HTTP and Slack stack, Alembic, the doctor's checks), never those of the others.
# bot/entry.py: the same, for `leadbot ingest -` handing its message to the running server (bot/handoff.py).
# bot/config.py: the parsers of two settings bring the mail reader and asyncio; loaded with them.
LATE = {
    "bot/entry.py: bot.cli",
    "bot/entry.py: bot.config",
    "bot/entry.py: bot.handoff",
    "bot/entry.py: storage.errors",
    "bot/config.py: ingest.listen",
    "bot/config.py: ingest.auth",
    "bot/cli.py: bot.cli_run",
    "bot/cli_run.py: bot.doctor",
    "bot/cli_run.py: storage.migrate",
    "bot/commands.py: bot.serve",
    "bot/commands.py: bot.privacy",
    "bot/commands.py: bot.review",
    "bot/commands.py: bot.jobs.rescore",
    "bot/commands.py: ingest.mail",
    "bot/commands.py: ingest.mail.body",
    "bot/commands.py: storage.migrate",
}
ROOT = Path(__file__).resolve().parent.parent


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    modules = sorted(graph.modules)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in modules:
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in graph.modules:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
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
                        found.append(sorted(component))
    return found


def test_no_module_imports_itself_through_others() -> None:
    graph = grimp.build_graph(*PACKAGES, include_external_packages=False, cache_dir=None)
    assert _cycles(graph) == []


def _hidden_imports(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    hidden = []
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(func):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.ImportFrom):  # relative: always our own
                names = ["."]
            for name in names:
                if name == "." or name.split(".")[0] in PACKAGES:
                    hidden.append(f"{path.relative_to(root)}:{node.lineno}: {name}")
    return hidden


def test_no_project_import_inside_a_function() -> None:
    """Only optional third-party packages (scikit-learn, …) may be imported late."""
    hidden = [
        h for p in PACKAGES for f in sorted((ROOT / p).rglob("*.py")) for h in _hidden_imports(f)
    ]
    assert [h for h in hidden if _where(h) not in LATE] == []


def _where(hidden: str) -> str:
    path, _, rest = hidden.partition(":")
    return f"{path}: {rest.partition(': ')[2]}"


def test_the_checks_find_what_they_look_for(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from storage.db import Store\n    import json\n")
    assert _hidden_imports(source, tmp_path) == ["m.py:2: storage.db"]


def test_a_cycle_through_three_modules_is_found() -> None:
    graph = grimp.ImportGraph()
    for importer, imported in [("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d")]:
        graph.add_import(importer=importer, imported=imported)
    assert _cycles(graph) == [["p.a", "p.b", "p.c"]]
