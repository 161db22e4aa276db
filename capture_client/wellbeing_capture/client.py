"""``wellbeing-capture``: stream a camera, video file, RTSP URL or image folder to the server.

Frames are sampled at --fps (default 1), JPEG-encoded in memory and sent with the device token.
Nothing is ever written to disk. While the server is unreachable or answers 429/503, frames wait
in a bounded in-memory buffer (--buffer-seconds of frames; the oldest are dropped and counted)
and are re-sent with exponential backoff and jitter. An acknowledged frame stays in memory until
the server confirms it was processed; one the server lost (a Redis restart, an expiry in a
backlog) is sent again, up to --max-resends times.

Exit codes: 0 done, 2 bad arguments / no camera, 3 token refused, 4 session unknown or ended,
5 capture blocked by the organization's jurisdiction gate.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import statistics
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlparse

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
MAX_BACKOFF_S = 10.0
MAX_STATUS_SEQUENCES = 500  # the server's limit per status request


class CaptureClientError(Exception):
    """A condition the user must fix; ``exit_code`` is what main() returns."""

    exit_code = 1


class SourceError(CaptureClientError):
    exit_code = 2


class TokenRefusedError(CaptureClientError):
    exit_code = 3


class SessionRefusedError(CaptureClientError):
    exit_code = 4


class CaptureBlockedError(CaptureClientError):
    exit_code = 5


class ServerUnavailableError(Exception):
    """Connection refused/reset, timeout, 429 or 503: buffer and retry."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Frame:
    sequence: int
    captured_at: float
    jpeg: bytes


@dataclass
class CaptureStats:
    sent: int = 0  # HTTP attempts, retries included
    acked: int = 0
    duplicates: int = 0
    rejected: int = 0  # refused by the server as bad frames (4xx), not retried
    dropped: int = 0  # pushed out of the full buffer
    retries: int = 0
    confirmed: int = 0  # acknowledged frames the server confirmed processed
    resent: int = 0  # acknowledged frames the server lost, sent again
    lost: int = 0  # given up: lost more than --max-resends times, or pushed out unconfirmed
    unconfirmed: int = 0  # still unconfirmed when the client stopped waiting
    latencies_ms: list[float] = field(default_factory=list)

    def status_line(self, buffered: int) -> str:
        recent = self.latencies_ms[-50:]
        latency = f"{statistics.median(recent):.0f} ms" if recent else "-"
        return (
            f"sent {self.sent}  acked {self.acked}  confirmed {self.confirmed}  "
            f"resent {self.resent}  dropped {self.dropped}  rejected {self.rejected}  "
            f"buffered {buffered}  latency {latency}"
        )


def raise_for_refusal(status: int, body: dict[str, Any]) -> None:
    """Turn a refusal that retrying cannot fix into the matching CaptureClientError."""
    detail = str(body.get("detail") or body.get("error") or f"HTTP {status}")
    if status == 401:
        raise TokenRefusedError(f"The server refused the device token: {detail}")
    if status == 403 and body.get("error") == "capture_blocked":
        raise CaptureBlockedError(f"Capture is not allowed for this school: {detail}")
    if status in (403, 404, 409):
        raise SessionRefusedError(f"The session cannot be used: {detail}")


class ServerClient:
    """HTTP(S) calls to the ingest API over one kept-alive connection."""

    def __init__(self, server: str, token: str, timeout: float = 5.0) -> None:
        url = urlparse(server.rstrip("/"))
        if url.scheme not in ("http", "https") or not url.hostname:
            raise CaptureClientError(f"--server must be an http(s) URL, got {server!r}")
        self.url, self.token, self.timeout = url, token, timeout
        self.conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self.conn is None:
            cls = (
                http.client.HTTPSConnection
                if self.url.scheme == "https"
                else http.client.HTTPConnection
            )
            self.conn = cls(self.url.hostname or "", self.url.port, timeout=self.timeout)
        return self.conn

    def request(
        self, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, Any], float | None]:
        """(status, JSON body, Retry-After); ServerUnavailableError on network trouble."""
        headers = {"Authorization": f"Bearer {self.token}", **headers}
        try:
            conn = self._connection()
            conn.request("POST", self.url.path + path, body=body, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise ServerUnavailableError(f"server unreachable ({type(exc).__name__})") from exc
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {"detail": raw[:200].decode(errors="replace")}
        retry_after = response.getheader("Retry-After")
        return response.status, data, float(retry_after) if retry_after else None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def start_session(self, session_id: int | None = None) -> dict[str, Any]:
        body = json.dumps({"session_id": session_id} if session_id else {}).encode()
        status, data, _ = self.request(
            "/api/ingest/sessions", body, {"Content-Type": "application/json"}
        )
        if status >= 400:
            raise_for_refusal(status, data)
            raise CaptureClientError(f"Could not start the session: HTTP {status} {data}")
        return data

    def end_session(self, session_id: int) -> None:
        status, data, _ = self.request(f"/api/ingest/sessions/{session_id}/end", b"", {})
        if status >= 400:
            raise_for_refusal(status, data)

    def frame_statuses(self, sequences: list[int]) -> dict[str, list[int]]:
        """The server's answer on this device's acknowledged frames: processed, pending, lost."""
        body = json.dumps({"sequences": sequences}).encode()
        status, data, retry_after = self.request(
            "/api/ingest/frames/status", body, {"Content-Type": "application/json"}
        )
        if status in (429, 502, 503, 504):
            raise ServerUnavailableError(f"server busy (HTTP {status})", retry_after)
        raise_for_refusal(status, data)
        if status >= 400:
            raise CaptureClientError(f"Frame status refused: HTTP {status} {data}")
        return data

    def send_frame(self, session_id: int, frame: Frame) -> tuple[int, dict[str, Any]]:
        """Send one frame; returns (status, body) for 2xx and bad-frame 4xx answers."""
        status, data, retry_after = self.request(
            "/api/ingest/frames",
            frame.jpeg,
            {
                "Content-Type": "image/jpeg",
                "X-Session-Id": str(session_id),
                "X-Sequence": str(frame.sequence),
                "X-Captured-At": f"{frame.captured_at:.3f}",
            },
        )
        if status in (429, 502, 503, 504):
            raise ServerUnavailableError(f"server busy (HTTP {status})", retry_after)
        raise_for_refusal(status, data)
        return status, data


class Confirmations:
    """Acknowledged frames kept in memory until the server confirms them processed.

    Every ``interval_s`` the server is asked where they are (``frame_statuses``): processed ones
    are forgotten, lost ones go back into the send buffer (at most ``max_resends`` times each,
    then counted as lost), pending ones are asked about again. At most ``capacity`` are kept;
    past that the oldest is given up and counted as lost. After the source ends the client waits
    up to ``settle_s`` for the rest.
    """

    def __init__(
        self, capacity: int, interval_s: float = 2.0, max_resends: int = 3, settle_s: float = 120.0
    ) -> None:
        self.frames: dict[int, Frame] = {}  # in acknowledgement order
        self.resends: dict[int, int] = {}
        self.capacity, self.interval_s = max(1, capacity), interval_s
        self.max_resends, self.settle_s = max_resends, settle_s
        self.next_check = time.monotonic() + interval_s
        self.deadline: float | None = None

    def add(self, frame: Frame, stats: CaptureStats) -> None:
        if frame.sequence not in self.frames and len(self.frames) >= self.capacity:
            oldest = next(iter(self.frames))
            del self.frames[oldest]
            stats.lost += 1
        self.frames[frame.sequence] = frame

    def waiting(self, source_done: bool) -> bool:
        """Whether to keep going for confirmations once the buffer is empty."""
        if not self.frames or not source_done:
            return bool(self.frames)
        if self.deadline is None:
            self.deadline = time.monotonic() + self.settle_s
        return time.monotonic() < self.deadline

    def check_if_due(self, server: ServerClient, buffer: FrameBuffer, stats: CaptureStats) -> None:
        if not self.frames or time.monotonic() < self.next_check:
            return
        self.next_check = time.monotonic() + self.interval_s
        try:
            answer = server.frame_statuses(list(self.frames)[:MAX_STATUS_SEQUENCES])
        except ServerUnavailableError:
            return  # asked again next round
        for sequence in answer.get("processed", []):
            stats.confirmed += self.frames.pop(sequence, None) is not None
        for sequence in answer.get("lost", []):
            self._resend(sequence, buffer, stats)

    def _resend(self, sequence: int, buffer: FrameBuffer, stats: CaptureStats) -> None:
        frame = self.frames.pop(sequence, None)
        if frame is None:
            return
        if self.resends.get(sequence, 0) >= self.max_resends:
            stats.lost += 1
            return
        self.resends[sequence] = self.resends.get(sequence, 0) + 1
        stats.resent += 1
        buffer.put(frame)


class FrameBuffer:
    """Frames waiting to be sent, at most ``capacity``; the oldest is dropped when full."""

    def __init__(self, capacity: int) -> None:
        self.frames: deque[Frame] = deque()
        self.capacity = max(1, capacity)
        self.cond = threading.Condition()
        self.closed = False
        self.dropped = 0

    def put(self, frame: Frame) -> None:
        with self.cond:
            if len(self.frames) >= self.capacity:
                self.frames.popleft()
                self.dropped += 1
            self.frames.append(frame)
            self.cond.notify()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def peek(self, timeout: float = 0.5) -> Frame | None:
        """The oldest frame (left in place until ``done``), or None when empty."""
        with self.cond:
            if not self.frames and not self.closed:
                self.cond.wait(timeout)
            return self.frames[0] if self.frames else None

    def done(self, frame: Frame) -> None:
        with self.cond:
            if self.frames and self.frames[0] is frame:
                self.frames.popleft()

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def finished(self) -> bool:
        with self.cond:
            return self.closed and not self.frames


class SequenceClock:
    """Sequence numbers unique per device across restarts: epoch milliseconds, strictly rising."""

    def __init__(self) -> None:
        self.last = 0

    def next(self) -> int:
        self.last = max(self.last + 1, int(time.time() * 1000))
        return self.last


def backoff_delay(attempt: int, retry_after: float | None) -> float:
    """Exponential backoff with full jitter, at least the server's Retry-After."""
    ceiling = min(MAX_BACKOFF_S, 0.25 * 2**attempt)
    return max(retry_after or 0.0, random.uniform(0.1, max(ceiling, 0.2)))


def send_buffered(
    server: ServerClient,
    session_id: int,
    buffer: FrameBuffer,
    stats: CaptureStats,
    on_status: Callable[[], None] = lambda: None,
    on_ack: Callable[[Frame, int], None] = lambda frame, status: None,
    confirmations: Confirmations | None = None,
) -> None:
    """Send until the buffer is closed and empty; retries 429/503/unreachable with backoff.
    With ``confirmations``, also until every acknowledged frame is confirmed processed (or
    given up), re-sending the ones the server lost.

    Raises CaptureClientError subclasses on refusals that retrying cannot fix.
    """
    attempt = 0
    while not buffer.finished or (confirmations and confirmations.waiting(buffer.finished)):
        if confirmations is not None:
            confirmations.check_if_due(server, buffer, stats)
        frame = buffer.peek()
        if frame is None:
            if buffer.finished:
                time.sleep(0.1)  # only confirmations are awaited
            continue
        started = time.perf_counter()
        stats.sent += 1
        try:
            status, body = server.send_frame(session_id, frame)
        except ServerUnavailableError as exc:
            stats.retries += 1
            time.sleep(backoff_delay(attempt, exc.retry_after))
            attempt += 1
            on_status()
            continue
        attempt = 0
        stats.latencies_ms.append((time.perf_counter() - started) * 1000.0)
        if status < 300:
            stats.acked += 1
            stats.duplicates += body.get("status") == "already received"
            if confirmations is not None:
                confirmations.add(frame, stats)
        else:
            stats.rejected += 1
            print(f"\nframe {frame.sequence} refused: {body.get('detail')}", file=sys.stderr)
        buffer.done(frame)
        on_ack(frame, status)
        on_status()


def encode_jpeg(image: Any, quality: int = 85) -> bytes:
    import cv2

    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise SourceError("a frame could not be JPEG-encoded")
    return bytes(data.tobytes())


def iter_source_images(source: str, fps: float, max_frames: int | None) -> Iterator[Any]:
    """BGR frames of a folder of images, or a video file / webcam index / RTSP URL."""
    path = Path(source)
    if path.is_dir():
        import cv2

        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise SourceError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {source}")
        for count, file in enumerate(files):
            if max_frames is not None and count >= max_frames:
                return
            image = cv2.imread(str(file))
            if image is not None:
                yield image
        return
    from wellbeing_capture.video_sources import VideoOpenError, iter_frames, parse_source

    parsed = parse_source(source)
    try:
        for _, image in iter_frames(parsed, sample_fps=fps, max_frames=max_frames):
            yield image
    except VideoOpenError as exc:
        hint = " (is a camera connected?)" if isinstance(parsed, int) else ""
        raise SourceError(f"{exc}{hint}") from exc


def produce_frames(
    images: Iterable[Any], buffer: FrameBuffer, fps: float, quality: int, errors: list[Exception]
) -> None:
    """Paced producer (one frame per 1/fps s): encode in memory and buffer; closes the buffer."""
    clock = SequenceClock()
    interval = 1.0 / fps
    next_at = time.monotonic()
    try:
        for image in images:
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            next_at = max(next_at + interval, time.monotonic() - interval)
            buffer.put(Frame(clock.next(), time.time(), encode_jpeg(image, quality)))
    except Exception as exc:  # reported by the main thread
        errors.append(exc)
    finally:
        buffer.close()


def run_capture(args: argparse.Namespace, out: TextIO) -> CaptureStats:
    server = ServerClient(args.server, args.token)
    source = iter_source_images(args.source, args.fps, args.max_frames)
    first = next(source, None)  # a missing camera fails here, before a session is started
    if first is None:
        raise SourceError(f"{args.source} yields no frames")
    images = itertools.chain([first], source)
    session = server.start_session(args.session)
    session_id = int(session["session_id"])
    print(f"Session {session_id} started.\n\n{session.get('transparency_notice', '')}\n", file=out)
    buffer = FrameBuffer(int(args.buffer_seconds * args.fps))
    stats, errors = CaptureStats(), list[Exception]()
    producer = threading.Thread(
        target=produce_frames,
        args=(images, buffer, args.fps, args.jpeg_quality, errors),
        daemon=True,
    )
    producer.start()

    def show() -> None:
        stats.dropped = buffer.dropped
        print("\r" + stats.status_line(len(buffer)), end="", file=out, flush=True)

    confirmations = Confirmations(buffer.capacity * 2, max_resends=args.max_resends)
    try:
        send_buffered(server, session_id, buffer, stats, show, confirmations=confirmations)
        stats.unconfirmed = len(confirmations.frames)
    finally:
        buffer.close()
        show()
        print(file=out)
        if not args.keep_session:
            try:
                server.end_session(session_id)
            except (CaptureClientError, ServerUnavailableError) as exc:
                print(f"Could not end session {session_id}: {exc}", file=sys.stderr)
    if errors:
        raise errors[0] if isinstance(errors[0], CaptureClientError) else SourceError(errors[0])
    return stats


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wellbeing-capture", description=__doc__.split("\n")[0])
    parser.add_argument("source", help="webcam index (0), video file, rtsp:// URL or image folder")
    parser.add_argument(
        "--server", default=os.environ.get("WELLBEING_SERVER", "http://127.0.0.1:8000")
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("WELLBEING_DEVICE_TOKEN", ""),
        help="device token (default: $WELLBEING_DEVICE_TOKEN)",
    )
    parser.add_argument("--session", type=int, help="join this scheduled/running session")
    parser.add_argument("--fps", type=float, default=1.0, help="frames per second to send")
    parser.add_argument("--buffer-seconds", type=float, default=30.0)
    parser.add_argument("--max-frames", type=int)
    parser.add_argument("--jpeg-quality", type=int, default=85)
    parser.add_argument("--keep-session", action="store_true", help="do not end the session")
    parser.add_argument(
        "--max-resends",
        type=int,
        default=3,
        help="times an acknowledged frame the server lost is sent again (default 3)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.token:
        print("No device token: pass --token or set WELLBEING_DEVICE_TOKEN.", file=sys.stderr)
        return 2
    if not 0 < args.fps <= 30:
        print("--fps must be between 0 and 30.", file=sys.stderr)
        return 2
    try:
        stats = run_capture(args, sys.stdout)
    except CaptureClientError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return exc.exit_code
    except ServerUnavailableError as exc:
        print(f"\nerror: cannot reach {args.server}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    print(
        f"done: {stats.acked} frames acknowledged, {stats.confirmed} confirmed processed, "
        f"{stats.resent} re-sent after the server lost them, {stats.lost} lost, "
        f"{stats.unconfirmed} unconfirmed, {stats.dropped} dropped."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
