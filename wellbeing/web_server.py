"""The web server keeps every request body in memory (issue 15, principle 2: frames never touch
the disk).

daphne serves the product over Twisted, whose ``Request.gotLength`` puts every body of 100,000
bytes or more, and every chunked body, into ``tempfile.TemporaryFile()`` before the application
sees a byte: a 487 KB frame or an enrollment photo was written to the system's temp directory.
``keep_request_bodies_in_memory()`` (called by ``wellbeing.asgi`` when daphne loads the
application, before it accepts a connection) makes daphne build its requests from
``InMemoryWebRequest``, whose body is a bounded in-memory buffer:

* a body announced (Content-Length) over ``request_body_limit()`` is answered 413 as soon as
  its headers arrive and the connection is closed: nothing of it is kept;
* a chunked body is kept in memory up to the same limit; past it the rest is discarded and the
  request answered 413;
* the limit is Django's own: ``min(DATA_UPLOAD_MAX_MEMORY_SIZE, FILE_UPLOAD_MAX_MEMORY_SIZE)``,
  so Django's ASGI handler, which spools bodies above ``FILE_UPLOAD_MAX_MEMORY_SIZE`` to a
  temporary file, never gets one that large.

``tests/security/test_request_bodies_in_memory.py`` runs daphne as in production with an audit
hook recording every file the process opens for writing while 0.1-10 MB bodies arrive.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

from daphne import http_protocol
from django.conf import settings

TOO_LARGE_RESPONSE = (
    b"HTTP/1.1 413 Payload Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s"
)


def request_body_limit() -> int:
    """Bytes of body a request may have: what Django accepts without spooling to a file."""
    data_limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or settings.FILE_UPLOAD_MAX_MEMORY_SIZE
    return int(min(data_limit, settings.FILE_UPLOAD_MAX_MEMORY_SIZE))


class BoundedBody(BytesIO):
    """A request body in memory, at most ``limit`` bytes; past that it keeps nothing more and
    says so (``overflowed``)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.overflowed = False

    def write(self, data: Any) -> int:
        if self.overflowed or self.tell() + len(data) > self.limit:
            self.overflowed = True
            self.truncate(0)  # free what was kept: the request will be refused
            return len(data)
        return super().write(data)


class InMemoryWebRequest(http_protocol.WebRequest):
    """daphne's request, with its body in a BoundedBody instead of a temporary file."""

    def gotLength(self, length: int | None) -> None:  # Twisted's name
        self.content = BoundedBody(request_body_limit())
        if length is not None and length > self.content.limit:
            self.content.overflowed = True
            message = f"Request body over {self.content.limit} bytes.".encode()
            self.channel.transport.write(TOO_LARGE_RESPONSE % (len(message), message))
            self.channel.transport.loseConnection()

    def process(self) -> Any:
        if isinstance(self.content, BoundedBody) and self.content.overflowed:
            limit = self.content.limit
            self.basic_error(413, b"Payload Too Large", f"Request body over {limit} bytes.")
            return None
        return super().process()


def keep_request_bodies_in_memory() -> None:
    """Make daphne's HTTP factory build InMemoryWebRequest (it looks the class up by this module
    global for every connection). Idempotent; without daphne loaded it changes nothing else."""
    http_protocol.WebRequest = InMemoryWebRequest
