"""Network helpers for tests: a listener that proves whether anything connected to it."""

from __future__ import annotations

import socket
import threading
from typing import Any


class Recorder:
    """A listening TCP socket that records every connection it accepts (and then drops it)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.host = host
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(64)
        self.port: int = self.sock.getsockname()[1]
        self.accepted: list[Any] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return  # closed at teardown
            self.accepted.append(peer)
            conn.close()

    def close(self) -> None:
        self.sock.close()
