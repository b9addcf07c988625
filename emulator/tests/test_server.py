import pytest

from flightpipe_local.ports import PortInUseError, check_port_free


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on `port`, read from the kernel's tables."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = open(table).read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A = LISTEN
                found.add(address if width == 32 else ".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


def test_stack_listens_on_loopback_only(local_stack, aws):
    s3 = aws("s3")
    s3.create_bucket(Bucket="server-smoke")
    assert "server-smoke" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    port = int(local_stack.endpoint.rsplit(":", 1)[1])
    assert listening_addresses(port) == {"127.0.0.1"}


def test_taken_port_is_reported(local_stack):
    port = int(local_stack.endpoint.rsplit(":", 1)[1])
    with pytest.raises(PortInUseError, match=str(port)):
        check_port_free(port)


def test_another_moto_version_is_refused_naming_both():
    import re
    import tomllib
    from pathlib import Path

    from flightpipe_local import MOTO_VERSION
    from flightpipe_local.server import MotoVersionError, check_moto_version

    check_moto_version(MOTO_VERSION)
    with pytest.raises(MotoVersionError, match=rf"needs moto {re.escape(MOTO_VERSION)} but moto 5\.2\.0 is installed"):
        check_moto_version("5.2.0")
    pins = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    assert f"moto[server]=={MOTO_VERSION}" in pins["dependencies"]


def test_a_port_in_time_wait_is_free():
    """A closed server connection leaves a TIME_WAIT socket on the port (the side that closes first keeps
    it); the next stack binds with SO_REUSEADDR, so the port must be reported free."""
    import socket

    from flightpipe_local.ports import free_port

    port = free_port()
    listener = socket.create_server(("127.0.0.1", port))
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = listener.accept()
    accepted.close()  # the server side closes first: its end goes to TIME_WAIT
    client.close()
    listener.close()
    assert any(state == "06" for state in socket_states(port)), "no TIME_WAIT socket was created"
    check_port_free(port)


def socket_states(port: int) -> list[str]:
    """Kernel TCP states of the IPv4 sockets whose local port is `port` (06 = TIME_WAIT)."""
    rows = [line.split() for line in open("/proc/net/tcp").read().splitlines()[1:]]
    return [row[3] for row in rows if int(row[1].split(":")[1], 16) == port]


def test_object_bodies_beyond_64_kib_live_on_disk_not_in_memory(local_stack, aws):
    """moto spools each version's body in memory up to MOTO_S3_DEFAULT_KEY_BUFFER_SIZE (5 MB by default):
    the stack lowers that, so every version of a large object costs a temporary file, not memory."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    from flightpipe_local.server import S3_BODY_MEMORY_BYTES

    s3 = aws("s3")
    s3.create_bucket(Bucket="spooled-bodies")
    s3.put_bucket_versioning(Bucket="spooled-bodies", VersioningConfiguration={"Status": "Enabled"})
    for size in (S3_BODY_MEMORY_BYTES // 2, 1 << 20):
        s3.put_object(Bucket="spooled-bodies", Key="day.csv", Body=b"x" * size)
    versions = s3_backends[DEFAULT_ACCOUNT_ID]["global"].buckets["spooled-bodies"].keys.getlist("day.csv")
    assert [v._value_buffer._rolled for v in versions] == [False, True]  # small: memory; 1 MiB: a file
    assert s3.get_object(Bucket="spooled-bodies", Key="day.csv")["Body"].read() == b"x" * (1 << 20)
