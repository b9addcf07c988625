"""open_ahead: each day's GET is sent while the previous day is read, one at most, never for an empty file."""

from __future__ import annotations

import datetime as dt
import io
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from flightpipe_job.sources import SourceObject
from flightpipe_job.staging import open_ahead


class FakeS3:
    def __init__(self, failing: set[str] = frozenset()):
        self.requested: list[str] = []
        self.failing = failing
        self.lock = threading.Lock()

    def get_object(self, Bucket, Key, VersionId):  # noqa: N803 - boto3's names
        with self.lock:
            self.requested.append(Key)
        if Key in self.failing:
            raise OSError(f"connection reset reading {Key}")
        return {"Body": io.BytesIO(Key.encode())}


def objects(*sizes: int) -> list[SourceObject]:
    return [SourceObject("b", f"k{i}", dt.date(2013, 1, i + 1), f"v{i}", "e", dt.datetime(2013, 1, 1), size)
            for i, size in enumerate(sizes)]


def test_the_next_get_is_sent_while_the_current_day_is_read():
    s3 = FakeS3()
    with ThreadPoolExecutor(max_workers=1) as pool:
        seen = []
        for number, opened in enumerate(open_ahead(s3, objects(5, 5, 5), pool)):
            assert opened()["Body"].read() == f"k{number}".encode()
            pool.submit(lambda: None).result()  # the request ahead has been sent by now
            seen.append(list(s3.requested))
    assert seen == [["k0", "k1"], ["k0", "k1", "k2"], ["k0", "k1", "k2"]]  # one ahead at most


def test_an_empty_file_is_never_requested_and_a_failed_get_raises_where_it_is_read():
    s3 = FakeS3(failing={"k2"})
    with ThreadPoolExecutor(max_workers=1) as pool:
        for number, opened in enumerate(open_ahead(s3, objects(5, 0, 5), pool)):
            if number == 0:
                assert opened()["Body"].read() == b"k0"
            elif number == 2:
                with pytest.raises(OSError, match="connection reset reading k2"):
                    opened()
    assert s3.requested == ["k0", "k2"]  # stage_day refuses the empty day without reading it
