"""Every public name has a docstring a user can read in help(), with Args: where it takes any.

Public names are those reachable from ``kerasish``: each package's ``__all__`` (or, for a module
without one, the classes and functions it defines under names without a leading underscore),
recursively, and every public method and property of those classes defined in kerasish. A method
that overrides a documented one (a callback's ``on_epoch_end``) may rely on the base's docstring,
as ``help()`` does, and does not repeat its Args.

``MISSING_DOCS`` lists the names still undocumented, as fnmatch patterns. Keep it honest: a name
outside it without docs fails the test, and so does an entry that no longer matches anything.
"""

import doctest
import fnmatch
import inspect
import re
import types
from pathlib import Path

import pytest

import kerasish as ks
from kerasish import checks, console, summary, tree
from kerasish.callbacks import progbar

# Names still lacking a docstring or an Args: section, as fnmatch patterns, by the file that owns
# them. Shrink it; never add a name to make a new, undocumented one pass.
MISSING_DOCS: tuple[str, ...] = ()


def _public_names(module: types.ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    return [name for name, value in vars(module).items()
            if not name.startswith("_") and (inspect.isclass(value) or inspect.isfunction(value))
            and getattr(value, "__module__", None) == module.__name__]


def _members(cls: type) -> dict[str, object]:
    """Public methods and properties of ``cls`` and its kerasish bases, by defining class."""
    found = {}
    for owner in cls.__mro__:
        if not owner.__module__.startswith("kerasish."):
            continue
        for name, value in vars(owner).items():
            if name.startswith("_"):
                continue
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if isinstance(value, property) or inspect.isfunction(value):
                found[f"{owner.__module__}.{owner.__qualname__}.{name}"] = (owner, name, value)
    return found


def public_api() -> dict[str, tuple]:
    """Qualified name -> (defining class or None, short name, object), for everything public."""
    api: dict[str, tuple] = {}
    pending = [ks]
    visited: set[str] = set()
    while pending:
        module = pending.pop()
        if module.__name__ in visited:
            continue
        visited.add(module.__name__)
        for name in _public_names(module):
            value = getattr(module, name)
            if isinstance(value, types.ModuleType):
                if value.__name__.startswith("kerasish"):
                    pending.append(value)
                continue
            if not (inspect.isclass(value) or inspect.isfunction(value)):
                continue
            api[f"{value.__module__}.{value.__qualname__}"] = (None, name, value)
            if inspect.isclass(value):
                api.update(_members(value))
    return api


def _has_parameters(fn) -> bool:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    return any(p.name not in ("self", "cls") for p in signature.parameters.values())


def _overrides_a_base(owner: type | None, name: str) -> bool:
    return owner is not None and any(name in vars(base) for base in owner.__mro__[1:])


def problem(owner: type | None, name: str, value: object) -> str | None:
    """What is wrong with this name's documentation, or ``None``."""
    if inspect.isclass(value):
        doc = inspect.cleandoc(value.__doc__ or "") if "__doc__" in vars(value) else ""
        init_doc = inspect.getdoc(vars(value)["__init__"]) if "__init__" in vars(value) else ""
        if not doc:
            return "docstring"
        constructed = not getattr(value, "_is_protocol", False)  # a Protocol only describes
        if constructed and _has_parameters(value) and "Args:" not in doc + (init_doc or ""):
            return "args"
        return None
    doc = inspect.getdoc(value.fget if isinstance(value, property) else value)
    if not doc:
        return "docstring"
    if isinstance(value, property) or _overrides_a_base(owner, name):
        return None
    if _has_parameters(value) and "Args:" not in doc:
        return "args"
    return None


def _allowed(qualname: str) -> bool:
    return any(fnmatch.fnmatchcase(qualname, pattern) for pattern in MISSING_DOCS)


def test_every_public_name_is_documented():
    problems = {q: p for q, (owner, name, value) in public_api().items()
                if (p := problem(owner, name, value))}
    undocumented = sorted(f"{q}: {p}" for q, p in problems.items() if not _allowed(q))
    assert not undocumented, "document these (Args: for parameters, as in Keras):\n" + "\n".join(
        undocumented)
    stale = [pattern for pattern in MISSING_DOCS
             if not any(fnmatch.fnmatchcase(q, pattern) for q in problems)]
    assert not stale, f"these are documented now: remove them from MISSING_DOCS: {stale}"


def test_the_walk_reaches_callbacks_methods_and_module_functions():
    api = public_api()
    assert "kerasish.model.Model.fit" in api
    assert "kerasish.callbacks.early_stopping.EarlyStopping.on_epoch_end" in api
    assert "kerasish.callbacks.history.History.plot" in api
    assert "kerasish.utils.unpack_x_y_sample_weight" in api
    assert not any(".._" in q or q.rsplit(".", 1)[1].startswith("_") for q in api)


def test_an_undocumented_method_or_missing_args_is_caught():
    class Documented:
        """A class.

        Args:
            x: a value.
        """

        def __init__(self, x):
            self.x = x

        def hook(self, batch):
            pass

        def explained(self, batch):
            """Does something.

            Args:
                batch: the batch index.
            """

        def terse(self, batch):
            """Does something."""

    class Child(Documented):
        def explained(self, batch):
            """Overrides a documented method: its Args live there."""

    assert problem(None, "Documented", Documented) is None
    assert problem(Documented, "hook", Documented.hook) == "docstring"
    assert problem(Documented, "terse", Documented.terse) == "args"
    assert problem(Child, "explained", Child.explained) is None
    assert problem(None, "Child", Child) == "docstring"  # a class's docstring is not inherited


@pytest.mark.parametrize("module", [console, summary, progbar, checks, tree, ks.optimizers],
                         ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


DOCS = Path(__file__).resolve().parents[1] / "docs"


def _links(text: str) -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", text)


@pytest.mark.parametrize("page", ["reference.md", "differences.md"])
def test_the_docs_stand_on_their_own(page):
    text = (DOCS / page).read_text(encoding="utf-8")
    assert "shared/" not in text and "/work/" not in text  # nothing outside the repository
    for link in _links(text):
        target = link.split("#", 1)[0]
        if target and not re.match(r"https?://", target):
            assert (DOCS / target).resolve().is_file(), f"{page} links to a missing {link}"
    anchors = {_anchor(heading) for heading in re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)}
    for link in _links(text):
        if link.startswith("#"):
            assert link[1:] in anchors, f"{page} links to a missing section {link}"


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_reference_names_every_public_name():
    reference = (DOCS / "reference.md").read_text(encoding="utf-8")
    names = {name for _, name, _ in public_api().values()}
    names |= set(ks.callbacks.__all__)
    absent = sorted(n for n in names if not re.search(rf"\b{re.escape(n)}\b", reference))
    assert not absent, f"docs/reference.md does not mention {absent}"
