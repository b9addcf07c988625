"""The daily ingest state machine's definition, with its settings filled in.

`statemachine/daily_ingest.asl.json` holds `${Name}` placeholders inside JSON strings (the way SAM's
DefinitionSubstitutions works), so the file stays valid JSON and valid ASL before provisioning.
`render({...})` fills every placeholder and refuses unknown or missing names, so a typo fails here rather
than as a state machine that calls a crawler named `${CrawlerName}`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

DEFINITION = Path(__file__).resolve().parents[1] / "statemachine" / "daily_ingest.asl.json"
# The same state machine in JSONata with variables (same placeholders): `render(settings, JSONATA_DEFINITION)`.
JSONATA_DEFINITION = DEFINITION.with_name("daily_ingest.jsonata.asl.json")
_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


def placeholders(path: Path = DEFINITION) -> set[str]:
    """The names the definition expects, e.g. {"CrawlerName", "JobName", ...}."""
    return set(_PLACEHOLDER.findall(path.read_text()))


def render(substitutions: dict[str, object], path: Path = DEFINITION) -> str:
    """The definition with every `${Name}` replaced by `substitutions[Name]`; returns the JSON string.

    Values are inserted as JSON string content (quotes and backslashes escaped), so the result is valid
    JSON whatever the value; numbers such as PollSeconds are turned into numbers by the state machine.
    """
    text = path.read_text()
    wanted = set(_PLACEHOLDER.findall(text))
    missing = sorted(wanted - substitutions.keys())
    unknown = sorted(substitutions.keys() - wanted)
    if missing or unknown:
        raise KeyError(f"{path.name}: missing substitutions {missing}, unknown substitutions {unknown}")
    rendered = _PLACEHOLDER.sub(lambda m: json.dumps(str(substitutions[m.group(1)]))[1:-1], text)
    json.loads(rendered)  # a value can never break the JSON, but prove it before AWS sees it
    return rendered
