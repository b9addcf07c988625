"""The extensions' changes to moto, declared as data: applied when a stack starts, reverted when the last stops.

Each service module lists its changes in one place, `patches()` → `[Patch(target, attribute, replacement), …]`:
`target` is a class, a module or a mapping (a mapping's item is replaced); `Patch.new(…)` declares a name moto
lacks (an action it does not implement), `Patch.setting(…)` a setting such as an environment variable.
Applying first checks every declaration against the moto it finds — a replaced name must exist, an added one
must not — so a moto that renamed or removed something fails before anything is changed, with a message naming
the attribute. Reverting puts back exactly what was there (the very objects; an added name is deleted again).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

_MISSING = object()


class PatchTargetError(RuntimeError):
    """moto no longer looks the way a patch was written against."""


@dataclass(frozen=True, eq=False)
class Patch:
    target: Any  # a class, a module or a mapping
    attribute: str  # for a mapping: the key
    replacement: Any
    kind: str = "replace"  # "replace": moto has the name; "add": moto lacks it; "set": either (a setting)

    @classmethod
    def new(cls, target: Any, attribute: str, replacement: Any) -> Patch:
        """A name moto lacks (e.g. an action it does not implement)."""
        return cls(target, attribute, replacement, kind="add")

    @classmethod
    def setting(cls, target: Any, attribute: str, value: Any) -> Patch:
        """A setting (an environment variable) given a value whether or not it had one."""
        return cls(target, attribute, value, kind="set")

    @property
    def name(self) -> str:
        if self._is_mapping:
            return f"{type(self.target).__name__}[{self.attribute!r}]"
        if isinstance(self.target, type):
            return f"{self.target.__module__}.{self.target.__qualname__}.{self.attribute}"
        return f"{self.target.__name__}.{self.attribute}"

    @property
    def _is_mapping(self) -> bool:
        return isinstance(self.target, MutableMapping)

    def current(self) -> Any:
        """What the target holds now: its own attribute (not an inherited one), or _MISSING."""
        if self._is_mapping:
            return self.target.get(self.attribute, _MISSING)
        return vars(self.target).get(self.attribute, _MISSING)

    def exists(self) -> bool:
        if self._is_mapping:
            return self.attribute in self.target
        return hasattr(self.target, self.attribute)

    def set(self, value: Any) -> None:
        if value is _MISSING:
            if self._is_mapping:
                self.target.pop(self.attribute, None)
            elif self.attribute in vars(self.target):
                delattr(self.target, self.attribute)
        elif self._is_mapping:
            self.target[self.attribute] = value
        else:
            setattr(self.target, self.attribute, value)


def imported_everywhere(package: str, module: Any, attribute: str, replacement: Any) -> list[Patch]:
    """Patches for `module.attribute` and for every module of `package` that imported it by name
    (`from … import attribute` binds a copy that patching the defining module does not reach)."""
    original = getattr(module, attribute)
    holders = [module] + [
        m
        for name, m in sorted(sys.modules.items())
        if m is not module and name.startswith(package) and vars(m).get(attribute) is original
    ]
    return [Patch(holder, attribute, replacement) for holder in holders]


class PatchSet:
    """Patches applied together: by the first stack that starts, reverted by the last that stops."""

    def __init__(self) -> None:
        self._originals: list[tuple[Patch, Any]] = []
        self._users = 0
        self._lock = threading.Lock()

    @property
    def applied(self) -> bool:
        return bool(self._originals)

    @property
    def patches(self) -> list[Patch]:
        """The patches in force."""
        return [patch for patch, _ in self._originals]

    def acquire(self, declared: Callable[[], Iterable[Patch]]) -> None:
        """Apply the patches `declared()` lists unless a stack already did; count this stack as a user."""
        with self._lock:
            if self._users == 0:
                self._apply(list(declared()))
            self._users += 1

    def release(self) -> None:
        """This stack is done; the last one reverts every patch."""
        with self._lock:
            if self._users == 0:
                return
            self._users -= 1
            if self._users == 0:
                self._revert()

    def _apply(self, patches: list[Patch]) -> None:
        problems = []
        for patch in patches:
            if patch.kind == "add" and patch.exists():
                problems.append(f"{patch.name} now exists in moto (the extension adds it: remove the addition)")
            elif patch.kind == "replace" and not patch.exists():
                problems.append(f"{patch.name} no longer exists in moto (the extension replaces it)")
        if problems:
            raise PatchTargetError("cannot extend this moto: " + "; ".join(problems))
        for patch in patches:
            self._originals.append((patch, patch.current()))
            patch.set(patch.replacement)

    def _revert(self) -> None:
        for patch, original in reversed(self._originals):
            patch.set(original)
        self._originals.clear()


# The one set of patches of this process: the stacks of one process share moto, so they share its patches.
EXTENSIONS = PatchSet()
