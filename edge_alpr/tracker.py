"""A small IoU tracker in the style of ByteTrack: gives each plate one id across frames.

Each frame's boxes are matched to the tracks' predicted boxes in two stages: confident
detections first, then the low-scoring ones, which may only continue an existing track (a
blurred plate keeps its id instead of starting a new one). A track's box is predicted with a
constant velocity, so a plate growing and sliding as a vehicle approaches stays matched.

A track stays tentative, hidden and unread, until it has ``min_hits`` detections; a tentative
track that misses a detected frame is dropped, so a one-frame false box never gets an id.
Confirmed tracks get consecutive ids starting at 1.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_alpr.types import Detections

# How much of the newest box-to-box motion enters the velocity estimate. Half smooths out
# detector jitter while following a vehicle that speeds up within a few frames.
_VELOCITY_SMOOTHING = 0.5


@dataclass(eq=False)  # tracks are compared by identity
class _Track:
    box: np.ndarray  # (4,) x1, y1, x2, y2 at last_seen
    velocity: np.ndarray  # (4,) change of the box per frame
    last_seen: int  # frame index of the last matched detection
    hits: int
    track_id: int = -1  # public id, set when the track is confirmed

    @property
    def confirmed(self) -> bool:
        return self.track_id >= 0

    def predicted_box(self, frame_index: int) -> np.ndarray:
        return self.box + self.velocity * (frame_index - self.last_seen)

    def observe(self, box: np.ndarray, frame_index: int) -> None:
        gap = max(frame_index - self.last_seen, 1)
        step = (box - self.box) / gap
        self.velocity = step if self.hits == 1 else (1 - _VELOCITY_SMOOTHING) * self.velocity + _VELOCITY_SMOOTHING * step
        self.box = box
        self.last_seen = frame_index
        self.hits += 1


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in ``a`` (N, 4) with every box in ``b`` (M, 4)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float32)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    intersection = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - intersection
    return np.where(union > 0, intersection / np.maximum(union, 1e-9), 0.0).astype(np.float32)


def greedy_match(iou: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Pairs (row, column) taken by descending IoU, each row and column at most once."""
    rows, cols = np.nonzero(iou >= threshold)
    order = np.argsort(-iou[rows, cols], kind="stable")
    used_rows: set[int] = set()
    used_cols: set[int] = set()
    pairs = []
    for row, col in zip(rows[order].tolist(), cols[order].tolist()):
        if row not in used_rows and col not in used_cols:
            pairs.append((row, col))
            used_rows.add(row)
            used_cols.add(col)
    return pairs


class Tracker:
    """Gives plate boxes track ids across frames.

    ``iou_threshold``: overlap needed between a predicted track box and a detection. Lower keeps
    ids on fast or jerky plates; higher avoids swapping ids between plates close together.
    ``max_age_frames``: a track ends once unseen for this many frames (skipped frames count).
    Higher bridges longer occlusions but reports a vehicle later.
    ``min_hits``: detections before a track is confirmed. Higher suppresses flickering false
    boxes but ignores plates seen only briefly.
    ``high_score_threshold``: detections at or above it are matched first and may start tracks;
    lower ones only continue tracks.
    """

    def __init__(
        self,
        iou_threshold: float = 0.3,
        max_age_frames: int = 15,
        min_hits: int = 3,
        high_score_threshold: float = 0.5,
    ) -> None:
        if not 0.0 < iou_threshold < 1.0:
            raise ValueError(f"iou_threshold must be in (0, 1), got {iou_threshold}")
        if max_age_frames < 1:
            raise ValueError(f"max_age_frames must be at least 1, got {max_age_frames}")
        if min_hits < 1:
            raise ValueError(f"min_hits must be at least 1, got {min_hits}")
        self.iou_threshold = iou_threshold
        self.max_age_frames = max_age_frames
        self.min_hits = min_hits
        self.high_score_threshold = high_score_threshold
        self._tracks: list[_Track] = []
        self._finished: list[int] = []
        self._next_id = 1
        self._last_frame: int | None = None

    def update(self, detections: Detections | None, frame_index: int) -> Detections:
        """Match this frame's detections to tracks; ``None`` for a frame the detector skipped.

        Returns the detections that belong to confirmed tracks, with ``track_ids`` set.
        """
        if self._last_frame is not None and frame_index <= self._last_frame:
            raise ValueError(f"frame_index must increase: got {frame_index} after {self._last_frame}")
        self._last_frame = frame_index
        if detections is None:
            # Nothing was looked for: tentative tracks wait, confirmed ones age.
            self._end_stale_tracks(frame_index, matched=[], drop_tentative=False)
            return Detections.empty()
        matches = self._associate(detections, frame_index)
        self._end_stale_tracks(frame_index, matched=list(matches.values()), drop_tentative=True)
        self._start_tracks(detections, frame_index, matches)
        return self._confirmed_detections(detections, matches)

    def pop_finished(self) -> list[int]:
        """Ids of the confirmed tracks that ended since the last call."""
        finished, self._finished = self._finished, []
        return finished

    def finish_all(self) -> list[int]:
        """End every track now (end of the video, shutdown); returns the confirmed ones' ids."""
        self._finished.extend(track.track_id for track in self._tracks if track.confirmed)
        self._tracks = []
        return self.pop_finished()

    def active_ids(self) -> list[int]:
        return [track.track_id for track in self._tracks if track.confirmed]

    def predicted_boxes(self, frame_index: int, min_speed_px: float = 0.0) -> np.ndarray:
        """(N, 4) boxes where the live tracks should be at ``frame_index``: every tentative track,
        and the confirmed ones whose box moves at least ``min_speed_px`` per frame (any edge), so
        a parked vehicle's track is left to end instead of keeping the detector busy."""
        boxes = [
            track.predicted_box(frame_index)
            for track in self._tracks
            if not track.confirmed or float(np.abs(track.velocity).max()) >= min_speed_px
        ]
        return np.asarray(boxes, np.float32).reshape(-1, 4)

    def _associate(self, detections: Detections, frame_index: int) -> dict[int, _Track]:
        """Detection index -> the track it continues, for confident then low-score detections."""
        high = np.flatnonzero(detections.scores >= self.high_score_threshold)
        low = np.flatnonzero(detections.scores < self.high_score_threshold)
        matches: dict[int, _Track] = {}
        free = list(self._tracks)
        for candidates in (high, low):
            predicted = np.array([t.predicted_box(frame_index) for t in free], dtype=np.float32).reshape(-1, 4)
            pairs = greedy_match(iou_matrix(predicted, detections.boxes[candidates]), self.iou_threshold)
            for row, col in pairs:
                matches[int(candidates[col])] = free[row]
            taken = {row for row, _ in pairs}
            free = [track for row, track in enumerate(free) if row not in taken]
        for det_index, track in matches.items():
            track.observe(detections.boxes[det_index].astype(np.float64), frame_index)
            self._confirm_if_due(track)
        return matches

    def _confirm_if_due(self, track: _Track) -> None:
        if not track.confirmed and track.hits >= self.min_hits:
            track.track_id = self._next_id
            self._next_id += 1

    def _end_stale_tracks(self, frame_index: int, *, matched: list[_Track], drop_tentative: bool) -> None:
        kept: list[_Track] = []
        for track in self._tracks:
            if track in matched:
                kept.append(track)
            elif not track.confirmed:
                if not drop_tentative:
                    kept.append(track)
            elif frame_index - track.last_seen >= self.max_age_frames:
                self._finished.append(track.track_id)
            else:
                kept.append(track)
        self._tracks = kept

    def _start_tracks(self, detections: Detections, frame_index: int, matches: dict[int, _Track]) -> None:
        """Unmatched confident detections start tentative tracks (low-score ones never do)."""
        for det_index in np.flatnonzero(detections.scores >= self.high_score_threshold).tolist():
            if det_index in matches:
                continue
            track = _Track(
                box=detections.boxes[det_index].astype(np.float64), velocity=np.zeros(4), last_seen=frame_index, hits=1
            )
            self._confirm_if_due(track)
            matches[det_index] = track
            self._tracks.append(track)

    @staticmethod
    def _confirmed_detections(detections: Detections, matches: dict[int, _Track]) -> Detections:
        ids = np.full(len(detections), -1, dtype=np.int64)
        for det_index, track in matches.items():
            ids[det_index] = track.track_id
        keep = ids >= 0
        return Detections(detections.boxes[keep], detections.scores[keep], ids[keep])
