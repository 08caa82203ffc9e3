"""A loopback downstream for relay tests: records what it accepts and can be told to fail."""

import gzip
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from tests.server import free_port

# What the downstream does with one request:
#   None                      accept it (200), the normal answer
#   (status, body)            answer that, without keeping the batch
#   (status, body, headers)   the same, with extra headers (Retry-After …)
#   HANG_UP                   close the connection without answering
#   CUT                       keep the batch, then close the connection halfway through the answer
HANG_UP = "hang-up"
CUT = "cut"
Answer = tuple[int, bytes] | tuple[int, bytes, dict[str, str]] | str | None
Behaviour = Callable[[str, bytes], Answer]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up early (a timeout test) is expected


@dataclass
class Recorder:
    port: int
    accepted: list[tuple[str, bytes]] = field(default_factory=list)  # (path, decoded body)
    encodings: list[str | None] = field(default_factory=list)  # Content-Encoding of every request
    raw_sizes: list[int] = field(default_factory=list)  # body bytes of every request, as sent
    requests: int = 0
    behaviour: Behaviour | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def records(self) -> list[Any]:
        out: list[Any] = []
        with self.lock:
            bodies = list(self.accepted)
        for _, body in bodies:
            text = body.strip()
            if text.startswith(b"["):
                out.extend(orjson.loads(text))
            else:
                out.extend(orjson.loads(line) for line in text.splitlines() if line.strip())
        return out

    def start(self) -> None:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                encoding = self.headers.get("Content-Encoding")
                with recorder.lock:
                    recorder.encodings.append(encoding)
                    recorder.raw_sizes.append(len(body))
                if encoding == "gzip":
                    body = gzip.decompress(body)  # fails the request if the relay's gzip is broken
                with recorder.lock:
                    recorder.requests += 1
                answer = recorder.behaviour(self.path, body) if recorder.behaviour else None
                if answer == HANG_UP:
                    self.close_connection = True
                    return
                if answer is None or answer == CUT:
                    with recorder.lock:
                        recorder.accepted.append((self.path, body))
                status, payload, headers = 200, b'{"ok": true}', {}
                if isinstance(answer, tuple):
                    status, payload = answer[0], answer[1]
                    headers = answer[2] if len(answer) == 3 else {}
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for key, value in headers.items():
                    self.send_header(key, value)
                if answer == CUT:  # promise a body, send a tenth of it, hang up
                    self.send_header("Content-Length", "100")
                    self.end_headers()
                    self.wfile.write(b'{"ok": tr')
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop listening: connections are refused until start() again."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@contextmanager
def recording_downstream(behaviour: Behaviour | None = None) -> Iterator[Recorder]:
    recorder = Recorder(free_port(), behaviour=behaviour)
    recorder.start()
    try:
        yield recorder
    finally:
        recorder.stop()
