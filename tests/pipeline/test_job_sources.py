"""Finding the work through one listing of the raw prefix gives what a HeadObject and a listing per key give."""

from __future__ import annotations

from flightpipe_job import sources
from flightpipe_job.settings import parse_args


def test_one_listing_of_the_prefix_answers_as_the_calls_per_key(pipeline, nyc_days):
    days = ["2013-01-01", "2013-01-02", "2013-01-03"]
    first = pipeline.put_day(days[0], nyc_days[days[0]])
    pipeline.put_day(days[0], nyc_days[days[0]] + b"")  # a second version: the first one is older
    pipeline.put_day(days[1], nyc_days[days[1]])
    pipeline.put_day(days[2], nyc_days[days[2]])
    pipeline.s3.delete_object(Bucket=pipeline.bucket, Key=pipeline.key(days[2]))  # a delete marker is current
    keys = [pipeline.key(day) for day in days] + [pipeline.key("2013-01-04")]  # never uploaded
    args = parse_args(pipeline.args())
    s3 = pipeline.s3

    listed = sources.prefix_versions(s3, args.raw_bucket, args.raw_prefix)
    per_key = sources.current_objects(s3, keys, args)
    from_listing = sources.current_objects(s3, keys, args, listed)
    assert from_listing == per_key
    assert [o.key for o in per_key] == keys[:2]  # the deleted and the absent day have no current version
    assert [sources.older_versions(s3, o, listed) for o in per_key] == [sources.older_versions(s3, o) for o in per_key]
    assert [o.version_id for o in sources.older_versions(s3, per_key[0])] == [first]

    stale = sources.older_versions(s3, per_key[0])[0]
    assert sources.newer_version(s3, stale, listed) == sources.newer_version(s3, stale) == per_key[0].version_id
    assert sources.newer_version(s3, per_key[1], listed) is sources.newer_version(s3, per_key[1]) is None
