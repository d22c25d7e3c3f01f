"""Reading a resource's fields so that none is dropped without a word.

A `Fields` wraps one mapping of a resource; every key a reader asks for is
marked as read, and `finish()` reports the keys nobody read as fields the
language has no equivalent for. A reader that knows a field cannot be
imported says so itself, with a better reason, by `lose`.
"""

from __future__ import annotations

from typing import Any, Iterator, Optional

from meshc.importer.ledger import Ledger
from meshc.importer.resources import Resource


class Fields:
    __slots__ = ("resource", "ledger", "data", "path", "read")

    def __init__(self, resource: Resource, ledger: Ledger, data: Any, path: tuple = ()):
        self.resource = resource
        self.ledger = ledger
        self.data = data if isinstance(data, dict) else {}
        self.path = path
        self.read: set[str] = set()

    def __contains__(self, key: str) -> bool:
        return self.data.get(key) is not None

    def get(self, key: str, default: Any = None) -> Any:
        """A field's value (None, as the API server drops it, counts as absent)."""
        self.read.add(key)
        value = self.data.get(key)
        return default if value is None else value

    def sub(self, key: str) -> Optional["Fields"]:
        """The mapping at `key`, None when absent; a value that is not a
        mapping is reported and counts as absent."""
        value = self.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.bad(key, "it is not a mapping")
            return None
        return Fields(self.resource, self.ledger, value, self.path + (key,))

    def items(self, key: str) -> Iterator[tuple[int, Any]]:
        """(index, item) of the list at `key`."""
        value = self.get(key)
        if value is None:
            return
        if not isinstance(value, list):
            self.bad(key, "it is not a list")
            return
        yield from enumerate(value)

    def at(self, *steps: Any) -> tuple:
        return self.path + steps

    def lose(self, key: Any, reason: str, help: Optional[str] = None) -> None:
        """A field that cannot be imported, for `reason`; `key` is a key of
        this mapping or a path from it (a tuple)."""
        self.ledger.field(self.resource, self._mark(key), reason, help)

    def bad(self, key: Any, reason: str, help: Optional[str] = None) -> None:
        """A value that cannot be imported, for `reason`."""
        self.ledger.bad_value(self.resource, self._mark(key), reason, help)

    def _mark(self, key: Any) -> tuple:
        steps = key if isinstance(key, tuple) else (key,)
        self.read.add(steps[0])
        return self.path + steps

    def finish(self, what: str = "the language has no equivalent") -> None:
        """Report every field nobody read."""
        for key in self.data:
            if key not in self.read and self.data[key] is not None:
                self.ledger.field(self.resource, self.at(key), what)
