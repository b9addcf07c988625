"""ListObjectVersions without copying every stored object.

moto 5.2.5's `S3Backend.list_object_versions` deep-copies every version of the bucket (body included: a FakeKey's
copy reads its body into a new temporary file) only to set `is_latest` on the copies. Here each version is
listed through a view that holds its own `is_latest` and reads everything else from the stored version, so
nothing is copied. The walk (order, prefix, delimiter, KeyMarker/VersionIdMarker paging, MaxKeys) is moto's own,
line for line, and so is the answer.
"""

from __future__ import annotations

from typing import Any

from moto.core.utils import unix_time_millis
from moto.s3.models import FakeDeleteMarker, FakeKey, S3Backend

from flightpipe_local.patches import Patch

MOTO_LIST_OBJECT_VERSIONS = S3Backend.list_object_versions  # moto's own, which the tests compare with


class ListedVersion:
    """A stored version (FakeKey or FakeDeleteMarker) as one listing shows it: IsLatest is the listing's."""

    __slots__ = ("stored", "is_latest")

    def __init__(self, stored: FakeKey | FakeDeleteMarker) -> None:
        self.stored = stored
        self.is_latest = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stored, name)


def _list_object_versions(
    self: S3Backend,
    bucket_name: str,
    delimiter: str | None = None,
    key_marker: str | None = None,
    max_keys: int | None = 1000,
    prefix: str = "",
    version_id_marker: str | None = None,
) -> tuple[list[Any], list[str], list[Any], str | None, str | None]:
    bucket = self.get_bucket(bucket_name)

    common_prefixes: set[str] = set()
    requested_versions: list[ListedVersion] = []
    delete_markers: list[ListedVersion] = []
    next_key_marker: str | None = None
    next_version_id_marker: str | None = None
    all_versions = [ListedVersion(version) for _, versions in bucket.keys.iterlists() for version in versions]
    # sort by name, revert last-modified-date
    all_versions.sort(key=lambda r: (r.name, -unix_time_millis(r.last_modified)))
    last_name = None

    skip_versions = True
    last_item_added: ListedVersion | None = None
    for version in all_versions:
        name = version.name
        # guaranteed to be sorted - so the first key with this name will be the latest
        version.is_latest = name != last_name
        if version.is_latest:
            last_name = name

        # Pagination
        if skip_versions:
            if key_marker is None:
                skip_versions = False
            elif not version_id_marker:
                skip_versions = version.name < key_marker
                continue
            elif version.name == key_marker and version.version_id == version_id_marker:
                skip_versions = False
                continue
            else:
                continue

        if not name.startswith(prefix):
            continue
        is_common_prefix = False
        if delimiter and delimiter in name[len(prefix):]:
            end_of_delimiter = len(prefix) + name[len(prefix):].index(delimiter) + len(delimiter)
            prefix_including_delimiter = name[0:end_of_delimiter]
            if prefix_including_delimiter == key_marker:
                continue
            common_prefixes.add(prefix_including_delimiter)
            name = prefix_including_delimiter
            is_common_prefix = True
        elif last_item_added:
            name = last_item_added.name

        if max_keys is not None and len(requested_versions) + len(delete_markers) + len(common_prefixes) >= max_keys:
            next_key_marker = name
            if is_common_prefix:
                next_version_id_marker = None
            elif last_item_added is not None:
                next_version_id_marker = last_item_added.version_id
            else:
                next_version_id_marker = None
            break

        if not is_common_prefix:
            last_item_added = version
            if isinstance(version.stored, FakeKey):
                requested_versions.append(version)
            else:
                delete_markers.append(version)

    return (
        requested_versions,
        sorted(common_prefixes),
        delete_markers,
        next_key_marker,
        next_version_id_marker,
    )


def patches() -> list[Patch]:
    return [Patch(S3Backend, "list_object_versions", _list_object_versions)]
