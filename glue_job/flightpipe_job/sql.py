"""The project's SQL, read at run time from this package's data (the repository's sql/ folder), and the project's
one statement splitter.

importlib.resources reads the files from wherever the package is: an installed wheel, a wheel on sys.path as a
zip, or the repository (the package's sql/ is a link to the repository's sql/).
"""

from __future__ import annotations

import re
from importlib import resources

# A statement ends at a `;` that ends its line (or the script).
_STATEMENT_END = re.compile(r";\s*(?:\n|$)")


def text(name: str) -> str:
    """The text of sql/<name>, e.g. "load_days.sql" or "checks/fact_duplicates.sql"."""
    resource = resources.files(__package__) / "sql"
    for part in name.split("/"):  # Python 3.9's Traversable.joinpath takes one part at a time
        resource = resource / part
    try:
        return resource.read_text(encoding="utf-8")
    except (FileNotFoundError, KeyError):  # a zipped wheel (Python 3.9's zipfile.Path) raises KeyError
        raise FileNotFoundError(f"sql/{name}: no such statement file in {__package__}") from None


def names() -> list[str]:
    """Every statement file, as the names text() takes, sorted."""
    found = []
    pending = [("", resources.files(__package__) / "sql")]
    while pending:
        prefix, folder = pending.pop()
        for entry in folder.iterdir():
            if entry.is_dir():
                pending.append((f"{prefix}{entry.name}/", entry))
            elif entry.name.endswith(".sql"):
                found.append(prefix + entry.name)
    return sorted(found)


def split_statements(script: str) -> list[str]:
    """The statements of a SQL script: split on `;` at line ends, comment lines dropped, empty chunks skipped.

    The project's SQL keeps `;` out of string literals and comments at line ends, so this rule is enough."""
    statements = []
    for chunk in _STATEMENT_END.split(script):
        body = "\n".join(line for line in chunk.splitlines() if not line.strip().startswith("--")).strip()
        if body:
            statements.append(body)
    return statements
