"""Response timestamps written without dateutil.

moto's response serializer turns each timestamp it is given into a datetime with botocore's
`parse_to_aware_datetime`, which hands a string to dateutil's general parser: about a quarter of a
600-version ListObjectVersions response went there. moto's models mostly give it their own ISO 8601 UTC text
(`2013-01-01T06:00:00.000Z`), which `datetime.fromisoformat` reads exactly; every other value still goes to
botocore. The text written is the same: only the parse is quicker.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import botocore.utils
from moto.core import serialize

from flightpipe_local.patches import Patch

# UTC to the second, with up to six fractional digits: exactly what fromisoformat reads as botocore does.
_UTC_ISO8601 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z")


def parse_to_aware_datetime(value: Any) -> datetime:
    if isinstance(value, str) and _UTC_ISO8601.fullmatch(value):
        return datetime.fromisoformat(value[:-1]).replace(tzinfo=UTC)
    return botocore.utils.parse_to_aware_datetime(value)


def patches() -> list[Patch]:
    return [Patch(serialize, "parse_to_aware_datetime", parse_to_aware_datetime)]
