"""The stack's address and the checks on its port, without moto: `flightpipe local start` checks the port in
its own process before it starts the stack's, and importing moto there would cost ~0.6 s of CPU per start."""

from __future__ import annotations

import socket

HOST = "127.0.0.1"


class PortInUseError(RuntimeError):
    pass


def check_port_free(port: int, host: str = HOST) -> None:
    """Refuse a port something listens on. The server binds with SO_REUSEADDR (werkzeug's server sets
    `allow_reuse_address`), so the check does too: a TIME_WAIT socket left by the last stack is no obstacle."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PortInUseError(f"port {port} on {host} is already in use ({exc.strerror})") from None


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
