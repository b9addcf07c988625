"""Data Catalog reads answered as Glue answers them where moto does not.

GetPartitions with `ExcludeColumnSchema` true leaves out each partition's column schema (its
`StorageDescriptor.Columns`) and keeps every other attribute, such as the values and the location (AWS Glue API,
"GetPartitions": "When true, specifies not returning the partition column schema. Useful when you are interested
only in other partition attributes such as partition values or location"). moto ignores the parameter.
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult
from moto.glue.responses import GlueResponse

from flightpipe_local.patches import Patch

_original_get_partitions = GlueResponse.get_partitions


def _get_partitions(self: GlueResponse) -> ActionResult:
    result = _original_get_partitions(self)
    if not self.parameters.get("ExcludeColumnSchema"):
        return result
    return ActionResult({**result.result, "Partitions": [_without_columns(p) for p in result.result["Partitions"]]})


def _without_columns(partition: dict[str, Any]) -> dict[str, Any]:
    """A copy of the partition without its columns: the stored partition input is left as it is."""
    descriptor = partition.get("StorageDescriptor")
    if descriptor is None:
        return partition
    return {**partition, "StorageDescriptor": {k: v for k, v in descriptor.items() if k != "Columns"}}


def patches() -> list[Patch]:
    return [Patch(GlueResponse, "get_partitions", _get_partitions)]
