"""A local Glue job run's --extra-py-files: fetched from the stack's S3, installed for that run, named in its log.

AWS Glue Developer Guide: "Using job parameters in AWS Glue jobs" (--extra-py-files: S3 paths, comma-separated,
added to the Python path before the script runs) and "Configuring job properties for Python shell jobs in AWS
Glue" (Limitations: no .egg on Python 3.9, use .whl; "Providing your own Python library").
"""

from __future__ import annotations

import base64
import hashlib
import io
import time
import uuid
import zipfile

import pytest

from flightpipe_local import glue_libraries, glue_runtime

# The script prints what it imported, from where, and a data file read through importlib.resources.
SCRIPT = """
import sys
from importlib import resources
import demo_lib
print("VALUE", demo_lib.VALUE)
print("FROM", demo_lib.__file__)
print("DATA", (resources.files("demo_lib") / "data" / "greeting.sql").read_text().strip())
import helper
print("HELPER", helper.NAME)
"""


def make_wheel(value: int, requires: tuple[str, ...] = ()) -> bytes:
    """A pure-Python wheel `demo_lib-1.0-py3-none-any.whl` (PEP 427 layout, RECORD with sha256 digests)."""
    files = {
        "demo_lib/__init__.py": f"VALUE = {value}\n".encode(),
        "demo_lib/data/greeting.sql": b"SELECT 'hello';\n",
        "demo_lib-1.0.dist-info/METADATA": ("Metadata-Version: 2.1\nName: demo-lib\nVersion: 1.0\n"
                                            + "".join(f"Requires-Dist: {r}\n" for r in requires)).encode(),
        "demo_lib-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                        b"Tag: py3-none-any\n",
    }
    record = []
    for name, body in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(body).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(body)}")
    files["demo_lib-1.0.dist-info/RECORD"] = ("\n".join(record) + "\ndemo_lib-1.0.dist-info/RECORD,,\n").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as whl:
        for name, body in files.items():  # fixed timestamps: the same content gives the same bytes (one install)
            whl.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), body)
    return out.getvalue()


WHEEL = "demo_lib-1.0-py3-none-any.whl"


@pytest.fixture
def job_with_libraries(aws):
    s3, glue = aws("s3"), aws("glue")
    bucket = f"libs-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="scripts/job.py", Body=SCRIPT)
    s3.put_object(Bucket=bucket, Key="scripts/helper.py", Body=b"NAME = 'helper'\n")

    def make(extra_py_files: str) -> str:
        name = f"job-{uuid.uuid4().hex[:10]}"
        glue.create_job(
            Name=name, Role="arn:aws:iam::123456789012:role/glue", GlueVersion="3.0", MaxCapacity=0.0625,
            Command={"Name": "pythonshell", "PythonVersion": "3.9", "ScriptLocation": f"s3://{bucket}/scripts/job.py"},
            DefaultArguments={"--extra-py-files": extra_py_files, "library-set": "analytics"},
        )
        return name

    make.bucket = bucket
    return make


def run_to_end(glue, job: str) -> dict:
    run_id = glue.start_job_run(JobName=job)["JobRunId"]
    deadline = time.monotonic() + 120
    while (run := glue.get_job_run(JobName=job, RunId=run_id)["JobRun"])["JobRunState"] in (
            "STARTING", "RUNNING", "STOPPING"):
        assert time.monotonic() < deadline, "the job run did not end"
        time.sleep(0.05)
    return run


def log(aws, group: str, run_id: str) -> list[str]:
    events = aws("logs").get_log_events(logGroupName=f"/aws-glue/python-jobs/{group}", logStreamName=run_id)
    return [e["message"] for e in events["events"]]


def test_the_run_imports_exactly_the_uploaded_wheel_and_its_log_names_it(job_with_libraries, aws):
    s3, glue = aws("s3"), aws("glue")
    bucket = job_with_libraries.bucket
    first = make_wheel(1)
    s3.put_object(Bucket=bucket, Key=f"libs/{WHEEL}", Body=first)
    job = job_with_libraries(f"s3://{bucket}/libs/{WHEEL}, s3://{bucket}/scripts/helper.py")

    run = run_to_end(glue, job)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    output = log(aws, "output", run["Id"])
    assert output[0] == glue_runtime.resolve().banner
    assert WHEEL in output[1] and f"s3://{bucket}/libs/{WHEEL}" in output[1]
    assert hashlib.sha256(first).hexdigest() in output[1]
    assert "helper.py" in output[2]
    assert "VALUE 1" in output and "DATA SELECT 'hello';" in output and "HELPER helper" in output

    # A new upload under the same key is what the next run imports (the install is keyed by the wheel's bytes).
    s3.put_object(Bucket=bucket, Key=f"libs/{WHEEL}", Body=make_wheel(2))
    again = run_to_end(glue, job)
    assert again["JobRunState"] == "SUCCEEDED", again.get("ErrorMessage")
    assert "VALUE 2" in log(aws, "output", again["Id"])


def test_a_missing_library_fails_the_run_as_glue_does(job_with_libraries, aws):
    glue = aws("glue")
    missing = f"s3://{job_with_libraries.bucket}/libs/absent-1.0-py3-none-any.whl"
    run = run_to_end(glue, job_with_libraries(missing))
    assert run["JobRunState"] == "FAILED"
    # The Python shell's launcher downloads each file with boto3 (aws/aws-sdk-pandas#213 shows its traceback).
    assert run["ErrorMessage"] == ("botocore.exceptions.ClientError: An error occurred (404) when calling the "
                                   "HeadObject operation: Not Found")
    assert any(missing in line for line in log(aws, "error", run["Id"]))


def test_an_egg_is_refused_on_python_39(job_with_libraries, aws):
    s3, glue = aws("s3"), aws("glue")
    s3.put_object(Bucket=job_with_libraries.bucket, Key="libs/demo_lib-1.0-py3.9.egg", Body=b"not used")
    run = run_to_end(glue, job_with_libraries(f"s3://{job_with_libraries.bucket}/libs/demo_lib-1.0-py3.9.egg"))
    assert run["JobRunState"] == "FAILED" and ".egg" in run["ErrorMessage"] and ".whl" in run["ErrorMessage"]


def test_a_wheel_is_installed_once_per_content(tmp_path, monkeypatch):
    python = glue_runtime.resolve().python  # before the cache moves: the runtime itself stays where it is
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    wheel = tmp_path / WHEEL
    wheel.write_bytes(make_wheel(7))
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    folder = glue_libraries._installed(wheel, digest, python)
    assert (folder / "demo_lib" / "__init__.py").read_text() == "VALUE = 7\n"

    def no_pip(*args, **kwargs):
        raise AssertionError("pip ran again for the same wheel")

    monkeypatch.setattr(glue_libraries.subprocess, "run", no_pip)
    assert glue_libraries._installed(wheel, digest, python) == folder


def test_a_wheel_with_dependencies_is_refused_saying_why(tmp_path):
    wheel = tmp_path / WHEEL
    wheel.write_bytes(make_wheel(1, requires=("requests>=2",)))
    with pytest.raises(glue_libraries.LibraryFailed, match="requires requests>=2"):
        glue_libraries._installed(wheel, "0" * 64, glue_runtime.resolve().python)
