"""Put on PYTHONPATH of local Glue job runs only: boto3 in the job talks to the local stack.

The stack gives job runs AWS_ENDPOINT_URL. botocore reads that variable itself only from 1.31 on; Glue's Python shell
3.9 ships botocore 1.25, which ignores it and would call AWS. For such a botocore, every client created without an
endpoint gets the variable's. Python 3.9-compatible; imports nothing of the stack.
"""

import os

_endpoint = os.environ.get("AWS_ENDPOINT_URL")
if _endpoint:
    try:
        import botocore
        import botocore.session
    except ImportError:
        botocore = None
    if botocore is not None and tuple(int(p) for p in botocore.__version__.split(".")[:2]) < (1, 31):
        _create_client = botocore.session.Session.create_client

        def _create_client_at_endpoint(self, service_name, *args, **kwargs):
            if len(args) < 5 and kwargs.get("endpoint_url") is None:  # endpoint_url is the 6th parameter
                kwargs["endpoint_url"] = _endpoint
            return _create_client(self, service_name, *args, **kwargs)

        botocore.session.Session.create_client = _create_client_at_endpoint
