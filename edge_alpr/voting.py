"""Temporal redundancy: many reads of one vehicle's plate -> one plate, and duplicate suppression.

A track gives one read per frame it was read in; far, blurred or glared frames misread a
character or two, or drop one. :func:`vote` groups the reads that spell (nearly) the same
plate, aligns them character by character, votes per position weighted by the reader's
per-character confidence, and applies the plate grammar to the result. :class:`RecentPlates`
keeps a camera from reporting a parked or queued vehicle again and again.
"""
from __future__ import annotations

import functools
import heapq
import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from edge_alpr import plates
from edge_alpr.types import Candidate, PlateFormat, TrackRead

#: A slot option: the character(s) a read puts at an aligned position ("" = nothing there).
_Option = str


@dataclass(frozen=True)
class VoteResult:
    """The voted plate of one track."""

    plate: str
    plate_format: PlateFormat
    confidence: float  # see vote()
    reads: int  # accepted reads in the agreeing group
    candidates: tuple[Candidate, ...]  # the next-best plates, best first
    best: TrackRead  # the most confident agreeing read: its box and frame go into the event


def vote(
    reads: Sequence[TrackRead],
    *,
    min_reads: int = 2,
    min_confidence: float = 0.6,
    grammar: Literal["indian", "any"] = "indian",
    max_candidates: int = 3,
    max_distance: int = 2,
    rejected_weight: float = 0.5,
    min_grammar_ratio: float = 0.1,
    sure_read_confidence: float | None = None,
) -> VoteResult | None:
    """Vote one plate from a track's reads, or None when the evidence is too thin.

    1. Reads are grouped by edit distance (at most ``max_distance`` from the group's most
       supported text); the group with the largest total character confidence wins.
    2. Every read of the group is aligned to the group's medoid (Levenshtein), so a read
       with a dropped or extra character still votes at the right positions. Each position
       (and each gap between positions, for extra characters) is voted on with weights =
       the reader's per-character confidences.
    3. The per-position winners spell the plate. With ``grammar="indian"`` and an invalid
       winner, the most supported valid combination of per-position choices (which
       includes every read of the group) wins instead, provided its support is at least
       ``min_grammar_ratio`` times the winner's (support = product of the chosen options'
       vote shares); otherwise the invalid plate stands with format ``"unknown"``.
    4. ``confidence`` = (mean vote share of the chosen option over the plate's positions
       and contested gaps) x (mean confidence of the three most confident agreeing reads).
       Agreement among reads raises the first factor; the best frames of the pass, not the
       blurred far ones, set the second.

    Reads with ``accepted=False`` (under the reader's threshold) vote with their weights
    scaled by ``rejected_weight`` but never count towards ``min_reads``: a run of poor reads
    may tip a close position but cannot make a plate on its own. Returns None when fewer
    than ``min_reads`` accepted reads agree or the confidence is under ``min_confidence``.

    With ``sure_read_confidence``, fewer agreeing reads still make a plate when one of them is
    at least that sure and the plate is in the grammar (with ``grammar="indian"``): on an
    approaching vehicle the plate is often legible only in its last, closest frames, so a
    pass may hold a single good read among blurred far ones.
    """
    if grammar not in ("indian", "any"):
        raise ValueError(f"vote: grammar must be 'indian' or 'any', got {grammar!r}")
    usable = [r for r in reads if r.read.text]
    if not usable:
        return None
    group = _largest_group(usable, max_distance, rejected_weight)
    agreeing = [r for r in group if r.read.accepted]
    on_sure_read = len(agreeing) < max(1, min_reads)
    if on_sure_read and not _has_sure_read(agreeing, sure_read_confidence):
        return None

    slots = _vote_slots(group, _medoid(group, rejected_weight), rejected_weight)
    ranked = _ranked_strings(slots, limit=max(64, 8 * max_candidates))
    winner_text, winner_score, winner_choice = ranked[0]
    if grammar == "indian" and not plates.is_valid(winner_text):
        valid = [c for c in ranked if plates.is_valid(c[0])]
        if valid and valid[0][1] >= winner_score + math.log(min_grammar_ratio):
            winner_text, winner_score, winner_choice = valid[0]

    support = _support(agreeing)
    confidence = _agreement(slots, winner_choice) * support
    if confidence < min_confidence:
        return None
    winner_format = plates.plate_format(winner_text)
    if on_sure_read and grammar == "indian" and winner_format == "unknown":
        return None
    alternatives = [c for c in ranked if c[0] != winner_text]
    if grammar == "indian" and winner_format != "unknown":
        alternatives = [c for c in alternatives if plates.is_valid(c[0])]
    scored = sorted(
        ((_agreement(slots, choice) * support, text) for text, _, choice in alternatives), key=lambda ct: (-ct[0], ct[1])
    )
    candidates = tuple(Candidate(text, conf) for conf, text in scored[:max_candidates])
    best = max(agreeing, key=lambda r: (r.read.confidence, r.detector_confidence))
    return VoteResult(winner_text, winner_format, confidence, len(agreeing), candidates, best)


def _has_sure_read(agreeing: list[TrackRead], sure_read_confidence: float | None) -> bool:
    if sure_read_confidence is None or not agreeing:
        return False
    return max(r.read.confidence for r in agreeing) >= sure_read_confidence


# --- grouping -------------------------------------------------------------------------------


def _weight(read: TrackRead, rejected_weight: float) -> float:
    return rejected_weight if not read.read.accepted else 1.0


def _char_confidences(read: TrackRead) -> tuple[float, ...]:
    conf = read.read.char_confidences
    if len(conf) != len(read.read.text):  # a reader without per-character scores
        return (float(read.read.confidence),) * len(read.read.text)
    return tuple(float(c) for c in conf)


def _read_mass(read: TrackRead, rejected_weight: float) -> float:
    return _weight(read, rejected_weight) * sum(_char_confidences(read))


def _largest_group(reads: list[TrackRead], max_distance: int, rejected_weight: float) -> list[TrackRead]:
    """Leader clustering: texts in order of support join the first group whose leader is
    within ``max_distance`` edits, else start a group. Returns the best-supported group."""
    mass: dict[str, float] = {}
    for r in reads:
        mass[r.read.text] = mass.get(r.read.text, 0.0) + _read_mass(r, rejected_weight)
    leaders: list[str] = []
    group_of: dict[str, str] = {}
    for text in sorted(mass, key=lambda t: (-mass[t], t)):
        leader = next((lead for lead in leaders if levenshtein(lead, text) <= max_distance), None)
        if leader is None:
            leaders.append(text)
            leader = text
        group_of[text] = leader

    def score(leader: str) -> tuple[float, int]:
        members = [r for r in reads if group_of[r.read.text] == leader]
        return sum(mass[t] for t in {r.read.text for r in members}), sum(r.read.accepted for r in members)

    best = max(leaders, key=score)
    return [r for r in reads if group_of[r.read.text] == best]


def _medoid(group: list[TrackRead], rejected_weight: float, contenders: int = 5) -> str:
    """The text with the least weighted edit distance to all the group's reads, among the
    group's ``contenders`` best-supported texts (the medoid is all but always one of them,
    and checking every text costs quadratic time on long tracks)."""
    mass: dict[str, float] = {}
    for r in group:
        mass[r.read.text] = mass.get(r.read.text, 0.0) + _read_mass(r, rejected_weight)
    shortlist = sorted(mass, key=lambda t: (-mass[t], t))[:contenders]

    def cost(text: str) -> tuple[float, float, str]:
        return sum(w * levenshtein(text, other) for other, w in mass.items()), -mass[text], text

    return min(shortlist, key=cost)


@functools.lru_cache(maxsize=4096)
def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


# --- alignment and per-position votes ---------------------------------------------------------


def _align(reference: str, text: str) -> tuple[list[int | None], list[list[int]]]:
    """Levenshtein alignment of ``text`` to ``reference``.

    Returns, per reference position, the index in ``text`` aligned to it (None: deleted),
    and per gap 0..len(reference), the indices of ``text`` inserted before that position.
    Substitutions are preferred over an insertion plus a deletion.
    """
    n, m = len(reference), len(text)
    dist = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        dist[i][0] = i
    for j in range(m + 1):
        dist[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            dist[i][j] = min(dist[i - 1][j] + 1, dist[i][j - 1] + 1, dist[i - 1][j - 1] + (reference[i - 1] != text[j - 1]))
    at: list[int | None] = [None] * n
    inserted: list[list[int]] = [[] for _ in range(n + 1)]
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and dist[i][j] == dist[i - 1][j - 1] + (reference[i - 1] != text[j - 1]):
            at[i - 1] = j - 1
            i, j = i - 1, j - 1
        elif i > 0 and dist[i][j] == dist[i - 1][j] + 1:
            i -= 1
        else:
            inserted[i].insert(0, j - 1)
            j -= 1
    return at, inserted


@dataclass(frozen=True)
class _Slot:
    """Votes at one aligned place: a reference position or a gap between positions."""

    options: tuple[tuple[_Option, float], ...]  # (option, vote share), most supported first
    is_gap: bool

    @property
    def contested(self) -> bool:
        return len(self.options) > 1


def _vote_slots(group: list[TrackRead], reference: str, rejected_weight: float) -> list[_Slot]:
    """Slots in reading order: gap 0, position 0, gap 1, position 1, ..., gap n."""
    n = len(reference)
    votes: list[dict[_Option, float]] = [dict() for _ in range(2 * n + 1)]
    for r in group:
        text, conf = r.read.text, _char_confidences(r)
        weight = _weight(r, rejected_weight)
        mean_conf = sum(conf) / len(conf)
        at, inserted = _align(reference, text)
        for gap, indices in enumerate(inserted):
            option = "".join(text[k] for k in indices)
            strength = sum(conf[k] for k in indices) / len(indices) if indices else mean_conf
            votes[2 * gap][option] = votes[2 * gap].get(option, 0.0) + weight * strength
        for position, k in enumerate(at):
            option, strength = ("", mean_conf) if k is None else (text[k], conf[k])
            votes[2 * position + 1][option] = votes[2 * position + 1].get(option, 0.0) + weight * strength
    slots = []
    for index, tally in enumerate(votes):
        total = sum(tally.values())
        if total <= 0.0:  # every vote had zero confidence: treat as a unanimous vote for the reference
            tally = {"" if index % 2 == 0 else reference[index // 2]: 1.0}
            total = 1.0
        ranked = sorted(((o, w / total) for o, w in tally.items()), key=lambda ow: (-ow[1], ow[0]))
        slots.append(_Slot(tuple(ranked), is_gap=index % 2 == 0))
    return slots


def _ranked_strings(slots: list[_Slot], limit: int) -> list[tuple[str, float, tuple[int, ...]]]:
    """Distinct strings from combinations of slot options, best first by the log product of
    the chosen shares (lazy k-best enumeration over the slots' sorted options)."""
    log_shares = [[math.log(max(share, 1e-12)) for _, share in s.options] for s in slots]
    start = (0,) * len(slots)
    heap = [(-sum(ls[0] for ls in log_shares), start)]
    visited = {start}
    found: dict[str, tuple[float, tuple[int, ...]]] = {}
    pops = 0
    while heap and len(found) < limit and pops < 20 * limit:
        neg_score, choice = heapq.heappop(heap)
        pops += 1
        text = "".join(slots[i].options[k][0] for i, k in enumerate(choice))
        if text not in found:
            found[text] = (-neg_score, choice)
        for i, k in enumerate(choice):
            if k + 1 < len(log_shares[i]):
                nxt = choice[:i] + (k + 1,) + choice[i + 1 :]
                if nxt not in visited:
                    visited.add(nxt)
                    heapq.heappush(heap, (neg_score + log_shares[i][k] - log_shares[i][k + 1], nxt))
    return sorted(((t, s, c) for t, (s, c) in found.items()), key=lambda x: (-x[1], x[0]))


def _agreement(slots: list[_Slot], choice: tuple[int, ...]) -> float:
    """Mean vote share of the chosen options over every position and every contested gap;
    uncontested gaps (nobody read an extra character) carry no information."""
    shares = [s.options[k][1] for s, k in zip(slots, choice) if not s.is_gap or s.contested]
    return sum(shares) / len(shares) if shares else 0.0


def _support(agreeing: list[TrackRead], top: int = 3) -> float:
    best = sorted((float(r.read.confidence) for r in agreeing), reverse=True)[:top]
    return sum(best) / len(best)


# --- duplicate suppression --------------------------------------------------------------------


class RecentPlates:
    """Which plates each camera reported recently, so a parked or queued vehicle is reported once.

    A plate counts as recent while it keeps being seen: each sighting within ``window_s`` of
    the previous one is suppressed and extends the window, so a car parked in view for an
    hour is reported once, and again only after it has been out of sight for ``window_s``.
    Only the exact plate matches: a plate one character away may well be another vehicle
    (KA01AB1234 and KA01AB1284), and the voting stage has already absorbed misreads.

    Memory is bounded: entries older than the window are purged, and at most
    ``max_entries`` are kept (the least recently seen go first).
    """

    def __init__(self, window_s: float, max_entries: int = 10_000) -> None:
        if window_s < 0:
            raise ValueError(f"RecentPlates: window_s must be >= 0 seconds, got {window_s}")
        if max_entries < 1:
            raise ValueError(f"RecentPlates: max_entries must be >= 1, got {max_entries}")
        self.window_s = window_s
        self.max_entries = max_entries
        # (camera, plate) -> [last seen, suppressed since last reported]; oldest first.
        self._entries: OrderedDict[tuple[str, str], list[float]] = OrderedDict()

    def seen(self, camera_id: str, plate: str, now: float) -> bool:
        """True (and counted) when ``camera_id`` reported ``plate`` within the window: do not
        report it again. False when it should be reported; it is then remembered from ``now``."""
        self._purge(now)
        key = (camera_id, plate)
        entry = self._entries.get(key)
        if entry is not None and now - entry[0] <= self.window_s:
            entry[0] = max(entry[0], now)
            entry[1] += 1
            self._entries.move_to_end(key)
            return True
        self._entries[key] = [now, 0]
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return False

    def suppressed_count(self, camera_id: str, plate: str) -> int:
        """Sightings of ``plate`` suppressed since ``camera_id`` last reported it (0 if not recent)."""
        entry = self._entries.get((camera_id, plate))
        return int(entry[1]) if entry else 0

    def __len__(self) -> int:
        return len(self._entries)

    def _purge(self, now: float) -> None:
        while self._entries:
            key, (last_seen, _) = next(iter(self._entries.items()))
            if now - last_seen <= self.window_s:
                break
            del self._entries[key]
