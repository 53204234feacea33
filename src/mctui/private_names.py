"""The private names of other packages that mctui's hooks use, and the check of all of them.

Each hook module (``rtc/hooks/*``, ``tui/textual_private.py``) lists what it touches in
``PRIVATE_NAMES`` and checks it at import, so a package that renamed one fails at once, in one
line that names the package, its version and the hook, instead of deep inside a running task.

A name is either an ``attribute`` (a method or class attribute: ``hasattr`` on the class or
module) or an ``instance`` attribute the class's own code assigns or reads (its name, mangled
as Python stores it, among the names of the class's functions' code).
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Literal


class HookError(ImportError):
    """A package without a private name a hook of mctui needs."""


@dataclass(frozen=True)
class PrivateName:
    owner: type | types.ModuleType
    name: str
    hook: str
    kind: Literal["attribute", "instance"] = "attribute"

    @property
    def package(self) -> str:
        module = self.owner.__name__ if isinstance(self.owner, types.ModuleType) else (
            self.owner.__module__
        )  # fmt: skip
        return module.split(".")[0]

    def present(self) -> bool:
        if self.kind == "attribute":
            return hasattr(self.owner, self.name)
        assert isinstance(self.owner, type)
        return self.name in set(_code_names(self.owner))


def _code_names(cls: type) -> Iterator[str]:
    """Every name the code of ``cls``'s functions uses (nested functions included)."""
    pending: list[types.CodeType] = [
        member.__code__ for member in vars(cls).values() if isinstance(member, types.FunctionType)
    ]
    while pending:
        code = pending.pop()
        yield from code.co_names
        pending.extend(c for c in code.co_consts if isinstance(c, types.CodeType))


def check(names: Iterable[PrivateName]) -> None:
    """Raise ``HookError`` for the first name that is not there."""
    for name in names:
        if name.present():
            continue
        try:
            installed = f"{name.package} {version(name.package)}"
        except PackageNotFoundError:
            installed = name.package
        owner = getattr(name.owner, "__qualname__", name.owner.__name__)
        raise HookError(
            f"{installed} has no {owner}.{name.name}, which mctui's {name.hook} hook needs: "
            f"install the version pyproject.toml names, or update mctui's {name.hook} module"
        )
