"""Matching a video's plate events to its vehicles: each vehicle is read correctly, read wrongly
or missed; an event that matches no vehicle is false, a second one for a vehicle a duplicate.

Texts are compared after ``normalise_text``, as in ``metrics``.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from edge_alpr.datasets.manifest import normalise_plate_text as normalise_text

# --------------------------------------------------------------------------- video events

EventSpan = tuple[str, int, int]  # (plate text, first frame, last frame), frames inclusive
VehicleStatus = Literal["correct", "wrong_text", "missed"]


@dataclass(frozen=True)
class VehicleOutcome:
    plate: str
    first_frame: int
    last_frame: int
    status: VehicleStatus
    events: tuple[int, ...]  # indices into the events list, first the one that decided status


@dataclass(frozen=True)
class EventMatch:
    vehicles: tuple[VehicleOutcome, ...]  # one per truth vehicle, in input order
    false_events: tuple[int, ...]  # events overlapping no vehicle in time
    duplicate_events: tuple[int, ...]  # second and later events for the same vehicle

    def count(self, status: VehicleStatus) -> int:
        return sum(v.status == status for v in self.vehicles)

    @property
    def correct(self) -> int:
        return self.count("correct")

    @property
    def wrong_text(self) -> int:
        return self.count("wrong_text")

    @property
    def missed(self) -> int:
        return self.count("missed")


def _overlap(a_first: int, a_last: int, b_first: int, b_last: int) -> int:
    """Frames shared by two inclusive spans; 0 or negative when they do not meet."""
    return min(a_last, b_last) - max(a_first, b_first) + 1


def match_events(
    events: Sequence[EventSpan], truth_vehicles: Sequence[EventSpan], frame_slack: int = 5
) -> EventMatch:
    """Assign published events to the vehicles that really passed.

    An event may belong to a vehicle whose frames it overlaps, each span widened by
    ``frame_slack`` frames (an event is published a little after the plate is last seen).
    Among those, the event goes to a vehicle with the same plate text if there is one;
    otherwise to the most-overlapping vehicle that has no event yet, else the most-overlapping
    one. A vehicle is ``correct`` if any of its events has the right text, ``wrong_text`` if it
    has events but none right, ``missed`` if none. Events beyond the first per vehicle are
    duplicates; events overlapping no vehicle are false.
    """
    texts = [normalise_text(e[0]) for e in events]
    plates = [normalise_text(v[0]) for v in truth_vehicles]
    overlaps = [
        [_overlap(ef - frame_slack, el + frame_slack, vf, vl) for (_, vf, vl) in truth_vehicles]
        for (_, ef, el) in events
    ]
    order = sorted(range(len(events)), key=lambda i: (events[i][1], events[i][2], i))
    assigned: dict[int, list[int]] = defaultdict(list)
    false_events: list[int] = []

    # Right-text events first, so a misread event never takes a vehicle that has its own event.
    pending: list[int] = []
    for e in order:
        same_text = [v for v, o in enumerate(overlaps[e]) if o > 0 and plates[v] == texts[e]]
        if same_text:
            assigned[max(same_text, key=lambda v: overlaps[e][v])].append(e)
        else:
            pending.append(e)
    for e in pending:
        touching = [v for v, o in enumerate(overlaps[e]) if o > 0]
        if not touching:
            false_events.append(e)
            continue
        free = [v for v in touching if not assigned[v]]
        assigned[max(free or touching, key=lambda v: overlaps[e][v])].append(e)

    outcomes: list[VehicleOutcome] = []
    duplicates: list[int] = []
    for v, (plate, first, last) in enumerate(truth_vehicles):
        mine = sorted(assigned[v], key=lambda e: (texts[e] != plates[v], events[e][1], e))
        status: VehicleStatus = "missed" if not mine else ("correct" if texts[mine[0]] == plates[v] else "wrong_text")
        outcomes.append(VehicleOutcome(plate, first, last, status, tuple(mine)))
        duplicates.extend(mine[1:])
    return EventMatch(tuple(outcomes), tuple(sorted(false_events)), tuple(sorted(duplicates)))
