"""open_ahead: the next days' GETs are sent while a day is read, a bounded number and bytes of them, never for an
empty file."""

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


def requested_while_reading(s3: FakeS3, sizes: list[int], **limits: int) -> list[list[str]]:
    """The keys requested so far each time a day is read (the pool's one thread runs the GETs in order)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        seen = []
        for size, opened in zip(sizes, open_ahead(s3, objects(*sizes), pool, **limits)):  # noqa: B905 - 3.9
            if size:  # stage_day refuses an empty day unread
                opened()["Body"].read()
            pool.submit(lambda: None).result()  # the requests sent ahead have been made by now
            seen.append(list(s3.requested))
    return seen


def test_the_next_get_is_sent_while_the_current_day_is_read():
    s3 = FakeS3()
    with ThreadPoolExecutor(max_workers=1) as pool:
        seen = []
        for number, opened in enumerate(open_ahead(s3, objects(5, 5, 5), pool, max_gets=1)):
            assert opened()["Body"].read() == f"k{number}".encode()
            pool.submit(lambda: None).result()  # the request ahead has been sent by now
            seen.append(list(s3.requested))
    assert seen == [["k0", "k1"], ["k0", "k1", "k2"], ["k0", "k1", "k2"]]  # one ahead at most


def test_up_to_max_gets_are_sent_ahead_of_the_day_being_read():
    seen = requested_while_reading(FakeS3(), [5] * 6, max_gets=3)
    assert seen == [[f"k{i}" for i in range(min(n + 4, 6))] for n in range(6)]


def test_the_objects_requested_ahead_hold_at_most_max_bytes_or_are_one_object():
    sizes = [10, 10, 10, 10, 100, 10, 10]
    seen = requested_while_reading(FakeS3(), sizes, max_gets=4, max_bytes=25)
    ahead = [[k for k in keys if int(k[1:]) > n] for n, keys in enumerate(seen)]
    assert ahead == [["k1", "k2"], ["k2", "k3"], ["k3"], ["k4"], ["k5", "k6"], ["k6"], []]
    for keys in ahead:  # the bound: within max_bytes, or a single object (k4, of 100 bytes)
        assert sum(sizes[int(k[1:])] for k in keys) <= 25 or len(keys) == 1


def test_empty_files_take_no_request_and_no_bytes_ahead():
    seen = requested_while_reading(FakeS3(), [5, 0, 0, 5, 5], max_gets=2, max_bytes=5)
    # k1 and k2 are the two ahead of k0, never requested; k3 is requested when within two of the day read
    # (k1), k4 only once k3 is read (5 + 5 bytes ahead would be more than max_bytes).
    assert seen == [["k0"], ["k0", "k3"], ["k0", "k3"], ["k0", "k3", "k4"], ["k0", "k3", "k4"]]


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
