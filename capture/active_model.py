"""The worker's face engine, kept on the registry's active emotion model.

Models are loaded once per worker process (wellbeing.face_engine). When an operator activates
another emotion model (``python -m inference models activate NAME`` rewrites registry.json),
running workers must switch without a restart: before each frame this costs one ``stat`` of
registry.json; the registry is read (and the new model loaded and checksum-verified) only when
the file changed.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from inference.model_manifest import ManifestError, active_model_name, models_dir
from wellbeing.face_engine import get_face_engine

if TYPE_CHECKING:
    from inference import FaceEngine

log = logging.getLogger(__name__)

Stamp = tuple[str, int, int]  # registry path, mtime in ns, size

_lock = threading.Lock()
_seen: dict[int, Stamp] = {}  # id(engine) -> registry stamp last acted on


def registry_stamp() -> Stamp | None:
    registry = models_dir() / "registry.json"
    try:
        stat = registry.stat()
    except OSError:
        return None
    return str(registry), stat.st_mtime_ns, stat.st_size


def engine_on_active_model() -> FaceEngine:
    """This process's engine (loaded once), on the registry's active emotion model."""
    return keep_on_active_model(get_face_engine())


def keep_on_active_model(engine: FaceEngine) -> FaceEngine:
    """Switch ``engine`` to the active emotion model if the registry changed since last time.

    An engine configured with an explicit model name is left alone. A new active model that
    fails to load (unknown, file missing, checksum mismatch) is logged and the current model
    stays, so frames keep being analysed rather than failing.
    """
    stamp = registry_stamp()
    if stamp is None or _seen.get(id(engine)) == stamp or engine.config.model_name is not None:
        return engine
    with _lock:
        if _seen.get(id(engine)) != stamp:
            switch_to_active_model(engine)
            _seen[id(engine)] = stamp
    return engine


def switch_to_active_model(engine: FaceEngine) -> None:
    current = engine.classifier.manifest.name
    try:
        active = active_model_name()
        if current != active:
            engine.reload_model(active)
            log.info("emotion model switched from %s to %s", current, active)
    except ManifestError as exc:
        log.error("active emotion model not loaded, keeping %s: %s", current, exc)
