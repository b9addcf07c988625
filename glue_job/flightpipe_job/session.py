"""The job's one boto3 session, whose Data API model is the one shipped in this package.

Glue's Python shell 3.9 runtime has boto3 1.22.5 (botocore 1.25.5). Its model of the Redshift Data API predates
`WaitTimeSeconds`, which DescribeStatement, GetStatementResult, ExecuteStatement and BatchExecuteStatement now
take ("The number of seconds to wait for the SQL statement to complete execution before returning ...
The maximum value is 30 seconds.": Data API Reference, DescribeStatement, request parameters), and botocore
refuses a parameter its model lacks. So the job ships the service's current model (models/, see its README)
and puts it first on botocore's data path (botocore's `data_path` setting, AWS_DATA_PATH: an extra folder of
models searched before its own). One DescribeStatement that answers when the statement ends then replaces a
poll every few milliseconds: fewer calls, and no wait past the statement's end. Every other service keeps the
runtime's own model.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

import boto3
import botocore.session

MODEL = ("redshift-data", "2019-12-20", "service-2.json")  # <service>/<api version>/service-2.json


def models_folder() -> str:
    """A folder holding models/ as botocore reads it. From a zipped wheel on sys.path (botocore opens plain
    files only), the model is written to a temporary folder first, removed when the process exits."""
    resource = resources.files(__package__) / "models"
    for part in MODEL:  # Python 3.9's Traversable.joinpath takes one part at a time
        resource = resource / part
    if isinstance(resource, Path):  # an installed wheel, or the repository
        return str(resource.parents[2])
    folder = Path(tempfile.mkdtemp(prefix="flightpipe-job-models-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    target = folder.joinpath(*MODEL)
    target.parent.mkdir(parents=True)
    target.write_bytes(resource.read_bytes())
    return str(folder)


def job_session() -> boto3.Session:
    """boto3's default session (boto3.client() uses it too), with the shipped Data API model; created once."""
    if boto3.DEFAULT_SESSION is None:
        core = botocore.session.get_session()
        extra = core.get_config_variable("data_path")  # AWS_DATA_PATH, if the environment sets one
        core.set_config_variable("data_path", os.pathsep.join([models_folder(), *([extra] if extra else [])]))
        boto3.setup_default_session(botocore_session=core)
    return boto3.DEFAULT_SESSION
