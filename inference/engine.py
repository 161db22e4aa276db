"""The engine API used by enrollment (Django) and the Celery workers.

``FaceEngine`` loads every model once per process; ``analyze_frame`` turns one BGR frame into
per-face results. Privacy contract: embeddings live only inside ``analyze_frame``; a face that
matches nobody in the gallery leaves as ``identity=None`` with nothing that could re-identify it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import dlib
import numpy as np

from inference.detection import Detection, FaceDetector, create_detector
from inference.emotion import EmotionClassifier
from inference.face_geometry import (
    HeadPose,
    LandmarkModel,
    estimate_pose,
    extract_chips,
    landmark_array,
)
from inference.face_quality import Quality, score_quality
from inference.identity import (
    CHIP_PADDING,
    CHIP_SIZE,
    DEFAULT_MATCH_MARGIN,
    DEFAULT_MATCH_THRESHOLD,
    Embedder,
    Gallery,
    create_embedder,
)
from inference.image_io import ImageDecodeError, decode_image
from inference.model_manifest import CANONICAL_CLASSES
from inference.tracking import Track, TrackerState

__all__ = [
    "EngineConfig",
    "EnrollmentPhotoError",
    "FaceEngine",
    "FaceResult",
    "FrameResult",
    "Gallery",
    "ImageDecodeError",
    "TrackerState",
    "decode_image",
]

EMOTION_CHIP = 64
EMOTION_PADDING = 0.2  # FER-2013 crops show the face from brow to chin with a small margin
# Below these face sizes (shorter side of the detector's box, px) the engine abstains from a
# name or an emotion; the face still counts as present but "not assessable". Measured on the
# shared scenes shrunk to 100/50/35/30/25% (docs/inference.md, "Small faces"): with faces
# upscaled for landmarks, every enrolled face of 14 px or more matched its own template, and
# none matched anyone else's once the margin rule was applied; 16 px keeps a safety step.
# Emotion: the active model's FER-2013 accuracy falls to 0.56 at 24 px and 0.37 at 16 px.
MIN_IDENTITY_PX = 16
MIN_EMOTION_PX = 24
ENROLL_MIN_PX = 80
ENROLL_MIN_QUALITY = 0.6


class EnrollmentPhotoError(ValueError):
    """An enrollment photo does not show exactly one good face; the message says what is wrong."""


@dataclass(frozen=True)
class EngineConfig:
    """Engine settings. ``threads`` = intra-op threads of ONNX Runtime (0 = all cores).

    ``engaged_max_yaw``/``engaged_max_pitch`` (degrees) define the attention proxy;
    ``ema_alpha`` switches smoothing from a rolling mean to an exponential moving average.
    ``classify_unknown`` also classifies faces outside the gallery (local analysis only).
    ``embedder``: "auto" (ONNX Runtime copy of dlib's ResNet when its model file is present,
    else dlib), "onnx" or "dlib"; both give the same embeddings (max |diff| ~1e-6).
    ``embedder_precision`` of the ONNX embedder: "auto" (INT8 where the CPU has VNNI, else
    FP32; inference.embedder_quantization), "int8" or "fp32".
    ``max_faces`` bounds the work per frame: beyond it, the detector's weakest faces are
    dropped unanalysed (``FrameResult.faces_over_cap``). ``match_margin``: see
    ``inference.identity.DEFAULT_MATCH_MARGIN``.
    """

    detector: str = "rfb"
    match_threshold: float = DEFAULT_MATCH_THRESHOLD
    match_margin: float = DEFAULT_MATCH_MARGIN
    smoothing_window: int = 5
    min_quality: float = 0.5
    threads: int = 1
    model_name: str | None = None
    ema_alpha: float | None = None
    engaged_max_yaw: float = 30.0
    engaged_max_pitch: float = 25.0
    classify_unknown: bool = False
    embedder: str = "auto"
    embedder_precision: str = "auto"
    max_faces: int = 64


@dataclass
class FaceResult:
    box: tuple[int, int, int, int]
    quality: float
    assessable: bool
    identity: str | None
    distance: float | None
    emotion: str | None
    probs: dict[str, float] | None
    engaged: bool | None
    yaw: float | None
    pitch: float | None
    track_id: int | None


@dataclass
class FrameResult:
    faces: list[FaceResult]
    unknown_count: int
    not_assessable_count: int
    timings_ms: dict[str, float] = field(default_factory=dict)
    # Faces found beyond EngineConfig.max_faces (a crowd): not analysed, so nothing about them
    # can be stored; reported so callers can say the frame was capped.
    faces_over_cap: int = 0


@dataclass
class _Face:
    """Working state of one detected face inside analyze_frame (never returned)."""

    det: Detection
    shape: dlib.full_object_detection
    pose: HeadPose
    quality: Quality
    emotion_chip: np.ndarray
    track: Track | None = None
    identity: str | None = None
    distance: float | None = None


class _Stopwatch:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + (now - self._last) * 1000.0
        self._last = now


class FaceEngine:
    """Detection, landmarks, identity and emotion models, loaded once (see module doc)."""

    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        cv2.setNumThreads(max(self.config.threads, 0))
        self.detector = create_detector(self.config.detector, self.config.threads)
        # Detectors asked for by name per call (a classroom's setting), created on first use.
        self._detectors: dict[str, FaceDetector] = {self.config.detector: self.detector}
        self._detectors_lock = threading.Lock()
        self.landmarks = LandmarkModel()
        self.embedder = create_embedder(
            self.config.embedder, self.config.threads, self.config.embedder_precision
        )
        self._template_embedder: Embedder | None = None
        self.classifier = EmotionClassifier(self.config.model_name, self.config.threads)

    def new_tracker(self, max_age: float = 2.0) -> TrackerState:
        """A tracker for one stream that smooths as configured (rolling window or EMA).

        Use this rather than ``TrackerState()`` so that ``smoothing_window``/``ema_alpha`` in
        EngineConfig take effect; ``max_age`` (seconds) is a property of the stream.
        """
        cfg = self.config
        return TrackerState(
            smoothing_window=cfg.smoothing_window, ema_alpha=cfg.ema_alpha, max_age=max_age
        )

    def detector_for(self, name: str | None = None) -> FaceDetector:
        """The detector called ``name`` (None: the configured one), created once and cached.

        Raises UnknownDetectorError (a ValueError listing the valid names) for an unknown name.
        Safe to call from several threads: each name is instantiated at most once.
        """
        if name is None:
            return self.detector
        detector = self._detectors.get(name)
        if detector is None:
            with self._detectors_lock:
                detector = self._detectors.get(name)
                if detector is None:
                    detector = self._detectors[name] = create_detector(name, self.config.threads)
        return detector

    def reload_model(self, name: str | None = None) -> None:
        """Switch the emotion model (None = the registry's active one); ManifestError if bad."""
        self.classifier = EmotionClassifier(name, self.config.threads)

    def embed_enrollment_photo(self, image: np.ndarray) -> np.ndarray:
        """Exactly one good face -> its 128-d float32 embedding; else EnrollmentPhotoError.

        Templates are embedded in FP32 whatever the frames' precision: a template is kept
        for years and compared with frames embedded on other CPUs (INT8 ones lie ~0.04 away).
        """
        faces = self._find_faces(np.ascontiguousarray(image[:, :, ::-1]))
        if not faces:
            raise EnrollmentPhotoError("no face found in the enrollment photo")
        face = max(faces, key=lambda f: min(f.det.box[2:]))
        side = min(face.det.box[2:])
        # People far behind the enrolled person are fine; a second face of comparable size
        # would make it unclear whose template this is.
        rivals = [f for f in faces if f is not face and min(f.det.box[2:]) >= side / 2]
        if rivals:
            raise EnrollmentPhotoError(
                f"{len(rivals) + 1} faces found; the photo must show one person"
            )
        if side < ENROLL_MIN_PX:
            raise EnrollmentPhotoError(f"face is too small ({side} px, need {ENROLL_MIN_PX})")
        if face.quality.score < ENROLL_MIN_QUALITY:
            raise EnrollmentPhotoError(f"face is too blurry or turned away: {face.quality}")
        rgb = np.ascontiguousarray(image[:, :, ::-1])
        chips = extract_chips(rgb, [face.shape], CHIP_SIZE, CHIP_PADDING)
        return self.template_embedder().embed_chips(chips)[0]

    def template_embedder(self) -> Embedder:
        """The frames' embedder when it is FP32, else an FP32 one made on first use."""
        if getattr(self.embedder, "precision", "fp32") == "fp32":
            return self.embedder
        if self._template_embedder is None:
            self._template_embedder = create_embedder(
                self.config.embedder, self.config.threads, "fp32"
            )
        return self._template_embedder

    def _find_faces(self, rgb: np.ndarray) -> list[_Face]:
        return self._describe(rgb, self.detector.detect(rgb))

    def analyze_frame(
        self,
        image: np.ndarray,
        gallery: Gallery,
        tracker: TrackerState | None = None,
        timestamp: float | None = None,
        detector: str | None = None,
    ) -> FrameResult:
        """Detect, identify, classify and smooth every face (at most ``max_faces``).

        ``image`` is BGR uint8 (as decode_image returns). Every face is identified from this
        frame alone; a tracker only adds smoothing of emotions across frames. ``timestamp``
        (seconds) defaults to time.monotonic(). ``detector`` names a backend of
        ``inference.detection.DETECTORS`` for this frame only (e.g. ``"hog"`` for a classroom
        set to it); None uses
        ``EngineConfig.detector``. An unknown name raises UnknownDetectorError (a ValueError)
        before any work is done.
        """
        face_detector = self.detector_for(detector)
        clock = _Stopwatch()
        now = time.monotonic() if timestamp is None else timestamp
        rgb = np.ascontiguousarray(image[:, :, ::-1])
        found = face_detector.detect(rgb)
        dets = sorted(found, key=lambda d: -d.confidence)[: self.config.max_faces]
        clock.lap("detect")
        faces = self._describe(rgb, dets)
        clock.lap("align")
        if tracker is not None:
            for face, track in zip(
                faces, tracker.associate([f.det.box for f in faces], now), strict=False
            ):
                face.track = track
        self._identify(rgb, faces, gallery)
        clock.lap("embed")
        results = self._classify(faces, tracker)
        clock.lap("classify")
        clock.timings["total"] = sum(clock.timings.values())
        return FrameResult(
            faces=results,
            unknown_count=sum(1 for r in results if r.identity is None),
            not_assessable_count=sum(1 for r in results if not r.assessable),
            timings_ms=clock.timings,
            faces_over_cap=len(found) - len(dets),
        )

    def _describe(self, rgb: np.ndarray, dets: Sequence[Detection]) -> list[_Face]:
        shapes = [self.landmarks.predict(rgb, d.rect) for d in dets]
        chips = extract_chips(rgb, shapes, EMOTION_CHIP, EMOTION_PADDING)
        faces = []
        for det, shape, chip in zip(dets, shapes, chips, strict=False):
            pose = estimate_pose(landmark_array(shape))
            gray = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)
            faces.append(
                _Face(det, shape, pose, score_quality(det.box, gray, pose, det.confidence), gray)
            )
        return faces

    def _identify(
        self,
        rgb: np.ndarray,
        faces: list[_Face],
        gallery: Gallery,
    ) -> None:
        """Set face.identity from this frame's evidence alone; embeddings die on return.

        Every face of MIN_IDENTITY_PX or more is embedded and matched on every frame (~3 ms a
        face): a track never lends its identity to whatever face its box lands on next, so a
        swap of people between seats or an unenrolled child sitting down where a student sat
        cannot be stored under the student's name. A face that this frame's match does not
        name stays unknown. When a track's identity changes, its smoothing history is dropped.
        """
        todo = [f for f in faces if min(f.det.box[2:]) >= MIN_IDENTITY_PX]
        chips = extract_chips(rgb, [f.shape for f in todo], CHIP_SIZE, CHIP_PADDING)
        cfg = self.config
        embeddings = self.embedder.embed_chips(chips)
        matches = gallery.match(embeddings, cfg.match_threshold, cfg.match_margin)
        for face, match in zip(todo, matches, strict=True):
            face.identity, face.distance = match.identity, match.distance
        for face in faces:
            track = face.track
            if track is not None and track.identity != face.identity:
                track.history.clear()  # someone else (or nobody known) now: restart smoothing
                track.ema = None
            if track is not None:
                track.identity, track.distance = face.identity, face.distance

    def _classify(self, faces: list[_Face], tracker: TrackerState | None) -> list[FaceResult]:
        cfg = self.config
        assessable = [
            f.quality.score >= cfg.min_quality and min(f.det.box[2:]) >= MIN_EMOTION_PX
            for f in faces
        ]
        wanted = [
            i for i, f in enumerate(faces) if assessable[i] and (f.identity or cfg.classify_unknown)
        ]
        probs = self.classifier.classify([faces[i].emotion_chip for i in wanted])
        by_face = dict(zip(wanted, probs, strict=False))
        results = []
        for i, face in enumerate(faces):
            p = by_face.get(i)
            if p is not None and tracker is not None and face.track is not None:
                p = tracker.smooth(face.track, p)
            results.append(self._result(face, assessable[i], p))
        return results

    def _result(self, face: _Face, assessable: bool, p: np.ndarray | None) -> FaceResult:
        cfg = self.config
        pose = face.pose if assessable else None
        engaged = None
        if pose is not None:
            engaged = (
                abs(pose.yaw) <= cfg.engaged_max_yaw and abs(pose.pitch) <= cfg.engaged_max_pitch
            )
        return FaceResult(
            box=face.det.box,
            quality=round(face.quality.score, 4),
            assessable=assessable,
            identity=face.identity,
            distance=face.distance,
            emotion=CANONICAL_CLASSES[int(np.argmax(p))] if p is not None else None,
            probs={c: float(v) for c, v in zip(CANONICAL_CLASSES, p, strict=False)}
            if p is not None
            else None,
            engaged=engaged,
            yaw=pose.yaw if pose else None,
            pitch=pose.pitch if pose else None,
            track_id=face.track.track_id if face.track else None,
        )
