"""The codebase's shape rules (CONTRIBUTING.md), checked on the source so they cannot drift.

Each rule keeps the loop readable in one sitting: no file over 600 lines, no function over 60
lines of code (its docstring, comments and blank lines aside), no import circle between
kerasish's modules (imports inside ``if TYPE_CHECKING:`` aside: they never run), and no object
reading another's ``_private`` attribute: a library's private, read in one isolated place, says
so with ``# private:`` on its line (and ``tests/test_private_apis.py`` checks it still exists).
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "kerasish"
SOURCES = sorted(PACKAGE.rglob("*.py"))
MAX_FILE_LINES = 600
MAX_FUNCTION_CODE_LINES = 60


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def code_lines(source: str) -> set[int]:
    """Line numbers that hold code: not blank, not only a comment, not part of a string statement
    (docstrings)."""
    lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                          tokenize.DEDENT, tokenize.ENDMARKER):
            continue
        lines.update(range(token.start[0], token.end[0] + 1))
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(
                node.value.value, str):
            lines.difference_update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def long_functions(path: Path) -> list[str]:
    source = path.read_text()
    code = code_lines(source)
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            count = len([n for n in code if start <= n <= (node.end_lineno or start)])
            if count > MAX_FUNCTION_CODE_LINES:
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name} ({count})")
    return found


def kerasish_imports(path: Path) -> set[str]:
    """The kerasish modules ``path`` imports, at any depth, outside ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for child in node.body for n in ast.walk(child))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    modules = {module_name(p) for p in SOURCES}
    return {n for n in names if n in modules and n != here}


def test_no_file_is_over_600_lines():
    too_long = [f"{p.relative_to(PACKAGE.parent)} ({n})" for p in SOURCES
                if (n := len(p.read_text().splitlines())) > MAX_FILE_LINES]
    assert not too_long, f"split these by job: {too_long}"


def test_no_function_is_over_60_lines_of_code():
    found = [f for p in SOURCES for f in long_functions(p)]
    assert not found, f"split these into named steps: {found}"


def test_the_line_counter_counts_code_not_docstrings():
    source = ('def f():\n    """Doc.\n\n    More.\n    """\n    # note\n\n'
              '    x = (1,\n         2)\n    return x\n')
    assert len(code_lines(source)) == 4  # def, the two lines of x, return


def cycle_in(graph: dict[str, set[str]]) -> list[str] | None:
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


def test_no_import_circle():
    graph = {module_name(p): kerasish_imports(p) for p in SOURCES}
    # A package's __init__ re-exports its modules: importing one of them runs the __init__ first,
    # which is no circle, so submodule -> its own package edges are left out.
    for name, deps in graph.items():
        graph[name] = {d for d in deps if not name.startswith(d + ".")}
    assert cycle_in(graph) is None, f"import circle: {' -> '.join(cycle_in(graph) or [])}"


def test_the_circle_finder_finds_a_circle():
    assert cycle_in({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle_in({"a": {"b"}, "b": set()}) is None


def test_the_rules_see_the_whole_package():
    assert {"kerasish.model", "kerasish.callbacks.base"} <= {module_name(p) for p in SOURCES}


# torch's multi-tensor ops (``torch._foreach_add_``...) are what torch.optim itself is built on.
ALLOWED_PRIVATE_PREFIXES = ("torch._foreach_",)


def private_reads(source: str) -> list[int]:
    """Lines that read ``something._name`` where ``something`` is not ``self``/``cls``, without a
    ``# private:`` comment on the line."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_") or \
                node.attr.startswith("__"):
            continue
        if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
            continue
        text = ast.unparse(node)
        if text.startswith(ALLOWED_PRIVATE_PREFIXES) or text.startswith("kerasish."):
            continue
        if "# private:" not in lines[node.lineno - 1]:
            found.append(node.lineno)
    return found


def test_no_object_reads_another_objects_private_attributes():
    found = [f"{p.relative_to(PACKAGE.parent)}:{line}" for p in SOURCES
             for line in private_reads(p.read_text())]
    assert not found, f"use a public name, or mark a library's private with '# private:': {found}"


def test_the_private_read_finder_finds_a_reach_in():
    assert private_reads("def f(model):\n    return model._engine\n") == [2]
    assert private_reads("def f(self):\n    return self._engine, torch._foreach_add(a, b)\n") == []
    assert private_reads("x = scaler._scale  # private: torch's\n") == []
