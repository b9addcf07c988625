"""The options after the head of a COPY or an UNLOAD, read word by word.

Docs "COPY" and "UNLOAD" (https://docs.aws.amazon.com/redshift/latest/dg/r_COPY.html, .../r_UNLOAD.html): a
parameter's value follows its name after an optional AS; a quoted value doubles the quotes inside it.
"""

from __future__ import annotations

import re

from flightpipe_local.redshift.errors import EngineError

_WORD = re.compile(r"'(?:[^']|'')*'|[^\s']+")


class OptionWords:
    def __init__(self, command: str, rest: str):
        self.command = command  # "COPY" or "UNLOAD", for the error messages
        self.words = _WORD.findall(rest.rstrip().rstrip(";"))
        self.i = 0

    def __bool__(self) -> bool:
        return self.i < len(self.words)

    def peek(self) -> str | None:
        return self.words[self.i] if self else None

    def take(self) -> str:
        """The next word, as written."""
        self.i += 1
        return self.words[self.i - 1]

    def value(self, name: str) -> tuple[str, bool]:
        """The value of option `name`, unquoted, and whether it was quoted."""
        if self and self.words[self.i].upper() == "AS":
            self.i += 1
        if not self:
            raise EngineError(f"{self.command} option {name} needs a value")
        word = self.take()
        if word.startswith("'"):
            return word[1:-1].replace("''", "'"), True
        return word, False
