"""Voting a track's noisy reads into one plate, and duplicate suppression."""
from __future__ import annotations

import pytest

from edge_alpr import plates
from edge_alpr.types import PlateRead, TrackRead
from edge_alpr.voting import RecentPlates, levenshtein, vote


def read(
    text: str,
    conf: float = 0.9,
    *,
    chars: dict[int, float] | None = None,
    accepted: bool = True,
    frame: int = 0,
    det: float = 0.8,
) -> TrackRead:
    """A TrackRead whose characters all have confidence ``conf``, except those in ``chars``."""
    char_conf = tuple((chars or {}).get(i, conf) for i in range(len(text)))
    plate_read = PlateRead(text, char_conf, conf, plates.plate_format(text), accepted)
    return TrackRead(plate_read, frame, 1000.0 + frame, (10.0 * frame, 0.0, 10.0 * frame + 100, 30.0), det)


def track(*texts: str, conf: float = 0.9) -> list[TrackRead]:
    return [read(t, conf, frame=i) for i, t in enumerate(texts)]


@pytest.mark.parametrize(
    ("reads", "expected"),
    [
        # one bad frame (glare turned 2 into Z) is outvoted
        (track("KA01AB1234", "KA01AB1234", "KA01AB1Z34", "KA01AB1234"), "KA01AB1234"),
        # a read with a dropped character is outvoted, though it is grammar-valid itself
        (track("MH12DE1433", "MH12DE143", "MH12DE1433", "MH12DE143", "MH12DE1433"), "MH12DE1433"),
        # a read with an extra character
        (track("KA01AB1234", "KA01AB12334", "KA01AB1234"), "KA01AB1234"),
        # every read has one different error: the vote is right though no read is
        (track("KA01AB1Z34", "KA01A81234", "KA0lAB1234".replace("l", "I"), "KA01AB1284", "XA01AB1234"), "KA01AB1234"),
        # BH series
        (track("22BH1234AA", "22BH1234AA", "22BH1Z34AA"), "22BH1234AA"),
    ],
)
def test_majority_wins(reads: list[TrackRead], expected: str) -> None:
    result = vote(reads)
    assert result is not None
    assert result.plate == expected
    assert result.plate_format == plates.plate_format(expected)
    assert result.reads == len(reads)


def test_character_confidence_outweighs_a_count() -> None:
    """Two unsure reads of an 8 lose to one sharp read of a 3 at that position."""
    reads = [read("KA01AB1234", 0.9, chars={8: 0.95})]
    reads += [read("KA01AB1284", 0.7, chars={8: 0.3}, frame=i) for i in (1, 2)]
    result = vote(reads)
    assert result is not None and result.plate == "KA01AB1234"
    assert "KA01AB1284" in [c.plate for c in result.candidates]


def test_two_vehicles_with_similar_plates_stay_apart() -> None:
    """Separate tracks vote separately, and suppression matches plates exactly."""
    first = vote(track("KA01AB1234", "KA01AB1234", "KA01AB1284"))
    second = vote(track("KA01AB1284", "KA01AB1284", "KA01AB1284"))
    assert first is not None and second is not None
    assert (first.plate, second.plate) == ("KA01AB1234", "KA01AB1284")
    recent = RecentPlates(window_s=60)
    assert not recent.seen("cam", first.plate, now=0.0)
    assert not recent.seen("cam", second.plate, now=1.0)


def test_grammar_valid_minority_overrides_an_invalid_majority() -> None:
    """Three reads see O in the RTO number (no plate has that), two see 0 almost as surely."""
    reads = [read("KAO1AB1234", 0.7, chars={2: 0.55}, frame=i) for i in range(3)]
    reads += [read("KA01AB1234", 0.7, chars={2: 0.5}, frame=3 + i) for i in range(2)]
    indian = vote(reads, min_confidence=0.0)
    assert indian is not None and (indian.plate, indian.plate_format) == ("KA01AB1234", "standard")
    anything = vote(reads, grammar="any", min_confidence=0.0)
    assert anything is not None and (anything.plate, anything.plate_format) == ("KAO1AB1234", "unknown")


def test_grammar_does_not_override_an_overwhelming_majority() -> None:
    """Nine sure reads of a non-Indian plate against one unsure valid one: keep the nine."""
    reads = [read("HR26DK83377", 0.9, frame=i) for i in range(9)] + [read("HR26DK8337", 0.2, frame=9)]
    result = vote(reads)
    assert result is not None and (result.plate, result.plate_format) == ("HR26DK83377", "unknown")


def test_invalid_reads_of_a_foreign_plate_still_vote() -> None:
    result = vote(track("HELLO123", "HELLO123", "HELL0123"))
    assert result is not None and (result.plate, result.plate_format) == ("HELLO123", "unknown")


@pytest.mark.parametrize(
    ("reads", "kwargs"),
    [
        (track("KA01AB1234"), {}),  # one read, two needed
        ([read("KA01AB1234"), read("KA01AB1234", accepted=False)], {}),  # a rejected read does not count
        (track("KA01AB1234", "KA01AB1234", conf=0.5), {}),  # under 0.6 confidence
        (track("KA01AB1234", "KA01AB1234", "KA01AB1234"), {"min_reads": 4}),
        (track("KA01AB1234", "KA01AB1234", conf=0.95), {"min_confidence": 0.99}),
        ([], {}),
        (track("", ""), {}),
    ],
)
def test_thin_evidence_is_rejected(reads: list[TrackRead], kwargs: dict) -> None:
    assert vote(reads, **kwargs) is None


def test_thresholds_pass_when_met() -> None:
    assert vote(track("KA01AB1234", conf=0.5), min_reads=1, min_confidence=0.4) is not None


def test_one_sure_read_reports_a_plate_a_track_saw_sharp_once() -> None:
    # Blurred far frames read badly (rejected), the closest frame reads the plate surely.
    far = [read("KA01AB1Z3", 0.3, accepted=False, frame=i) for i in range(3)]
    near = read("KA01AB1234", 0.93, frame=3)
    result = vote([*far, near], sure_read_confidence=0.9)
    assert result is not None and result.plate == "KA01AB1234" and result.reads == 1
    assert vote([*far, near], sure_read_confidence=None) is None  # off: two reads needed
    assert vote([*far, near], sure_read_confidence=0.95) is None  # not sure enough


def test_one_sure_read_outside_the_grammar_is_not_enough() -> None:
    sure = read("KA0AB12345", 0.95)
    assert not plates.is_valid(sure.read.text)
    assert vote([sure], sure_read_confidence=0.9) is None
    assert vote([sure], sure_read_confidence=0.9, grammar="any") is not None
    assert vote([sure, read("KA0AB12345", 0.95, frame=1)]) is not None  # two reads: the old rule


def test_rejected_reads_add_weak_evidence() -> None:
    """Two accepted reads disagree at one position; two rejected reads tip it."""
    reads = [read("KA01AB1234", 0.8, frame=0), read("KA01AB1284", 0.8, frame=1)]
    tipping = [read("KA01AB1284", 0.8, accepted=False, frame=2 + i) for i in range(2)]
    with_them = vote(reads + tipping, min_confidence=0.0)
    without_weight = vote(reads + tipping, min_confidence=0.0, rejected_weight=0.0)
    assert with_them is not None and with_them.plate == "KA01AB1284"
    assert with_them.reads == 2  # only accepted reads are counted
    assert without_weight is not None and without_weight.plate == "KA01AB1234"  # a tie, broken by order


@pytest.mark.parametrize(
    ("confidences", "expected"),
    [
        ([0.9, 0.9], 0.9),
        ([0.9, 0.8, 0.7, 0.2], (0.9 + 0.8 + 0.7) / 3),  # the three best frames set the level
        ([0.6, 0.99], (0.6 + 0.99) / 2),
    ],
)
def test_confidence_of_unanimous_reads(confidences: list[float], expected: float) -> None:
    reads = [read("KA01AB1234", c, frame=i) for i, c in enumerate(confidences)]
    result = vote(reads, min_confidence=0.0)
    assert result is not None and result.confidence == pytest.approx(expected)


def test_disagreement_lowers_confidence() -> None:
    unanimous = vote(track("KA01AB1234", "KA01AB1234", "KA01AB1234", "KA01AB1234"))
    split = vote(track("KA01AB1234", "KA01AB1234", "KA01AB1284", "KA01AB1284".replace("12", "17")))
    assert unanimous is not None and split is not None
    assert split.confidence < unanimous.confidence
    # One of 10 positions split 2:2 (share 0.5), one 3:1 (0.75): mean share 0.925, reads 0.9.
    assert split.confidence == pytest.approx((8 + 0.5 + 0.75) / 10 * 0.9)


def test_best_is_the_most_confident_agreeing_read() -> None:
    reads = [read("KA01AB1234", 0.7, frame=0), read("KA01AB1234", 0.95, frame=1), read("KA01AB1234", 0.8, frame=2)]
    result = vote(reads)
    assert result is not None and result.best is reads[1]


def test_candidates_are_alternatives_best_first() -> None:
    reads = track("KA01AB1234", "KA01AB1234", "KA01AB1234", "KA01AB1284", "KA01AB1z34".upper(), "KA01AB7234")
    result = vote(reads, max_candidates=2)
    assert result is not None and result.plate == "KA01AB1234"
    assert len(result.candidates) == 2
    assert all(c.plate != result.plate and plates.is_valid(c.plate) for c in result.candidates)
    assert result.candidates[0].confidence >= result.candidates[1].confidence
    assert all(c.confidence < result.confidence for c in result.candidates)


def test_an_outlier_group_does_not_join() -> None:
    """A read of another vehicle's plate in the same track (occlusion) is ignored, not merged."""
    reads = track("KA01AB1234", "KA01AB1234", "TN09Z0012", "KA01AB1234")
    result = vote(reads)
    assert result is not None and result.plate == "KA01AB1234" and result.reads == 3


def test_unknown_grammar_is_rejected() -> None:
    with pytest.raises(ValueError, match="grammar"):
        vote(track("KA01AB1234", "KA01AB1234"), grammar="eu")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("a", "b", "d"),
    [("", "", 0), ("KA01", "KA01", 0), ("KA01", "KA1", 1), ("KA01AB1234", "KA01AB1284", 1), ("ABC", "", 3), ("AB", "BA", 2)],
)
def test_levenshtein(a: str, b: str, d: int) -> None:
    assert levenshtein(a, b) == levenshtein(b, a) == d


# --- duplicate suppression --------------------------------------------------------------------


def test_parked_vehicle_is_reported_once_while_it_stays() -> None:
    recent = RecentPlates(window_s=60)
    sightings = [(0.0, False), (30.0, True), (80.0, True), (130.0, True)]  # seen every <60 s: one report
    for now, suppressed in sightings:
        assert recent.seen("gate", "KA01AB1234", now) is suppressed
    assert recent.suppressed_count("gate", "KA01AB1234") == 3
    # Gone for longer than the window, then back: reported again.
    assert recent.seen("gate", "KA01AB1234", 300.0) is False
    assert recent.suppressed_count("gate", "KA01AB1234") == 0


def test_suppression_is_per_camera_and_exact() -> None:
    recent = RecentPlates(window_s=60)
    assert not recent.seen("north", "KA01AB1234", 0.0)
    assert not recent.seen("south", "KA01AB1234", 1.0)
    assert not recent.seen("north", "KA01AB1284", 2.0)  # one character away: another vehicle
    assert recent.seen("north", "KA01AB1234", 3.0)


def test_memory_is_bounded() -> None:
    recent = RecentPlates(window_s=10, max_entries=3)
    for i in range(5):
        recent.seen("cam", f"KA01AB{i:04d}", float(i))
    assert len(recent) == 3
    assert not recent.seen("cam", "KA01AB0000", 5.0)  # evicted, so reported again
    recent.seen("cam", "KA01AB9999", 100.0)  # everything else is older than the window
    assert len(recent) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"window_s": -1}, "window_s"), ({"window_s": 1, "max_entries": 0}, "max_entries")]
)
def test_recent_plates_rejects_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RecentPlates(**kwargs)
