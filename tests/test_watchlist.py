"""Watchlists: fuzzy matching the way plate readers err, list files and their errors, reload
on change with the last good list kept, expiry, per-camera lists, and the config around them."""
from __future__ import annotations

import json
import logging
import os
import random
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from edge_alpr.cli import main as cli_main
from edge_alpr.config import AppConfig, WatchlistsConfig, load_config
from edge_alpr.errors import ConfigError
from edge_alpr.types import PlateEvent, WatchlistMatch
from edge_alpr.watchlist import (
    CONFUSABLE_COST,
    CONFUSABLE_GROUPS,
    WatchlistError,
    Watchlists,
    canonical,
    plate_distance,
    read_list,
)

TODAY = date(2026, 12, 2)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def lists(tmp_path: Path, files: dict[str, tuple[str, str]], **list_options) -> WatchlistsConfig:
    """A watchlists config of ``name -> (kind, file text)``, the files written under tmp_path."""
    config = {}
    for name, (kind, text) in files.items():
        config[name] = {"kind": kind, "file": str(write(tmp_path / f"{name}.csv", text)), **list_options}
    return WatchlistsConfig.model_validate({"lists": config, "check_interval_s": 1.0})


def watchlists(config: WatchlistsConfig, camera: str = "cam1", clock: Clock | None = None,
               today: date = TODAY) -> Watchlists:
    return Watchlists(config, camera, clock=clock or Clock(), today=lambda: today)


# --- the distance ------------------------------------------------------------------------------

# (listed plate, read plate, distance): one row per kind of reader error.
DISTANCES = [
    ("KA01AB1234", "KA01AB1234", 0.0),
    ("KA01AB1234", "KAO1AB1234", 0.5),  # 0 read as O
    ("KA01AB1234", "KA0IAB1234", 0.5),  # 1 read as I
    ("KA01AB1234", "KA01A81234", 0.5),  # B read as 8
    ("MH12DE5678", "MH1ZDE5678", 0.5),  # 2 read as Z
    ("MH12DE5678", "MH12DE567B", 0.5),  # 8 read as B
    ("MH12DE5678", "MH12DES678", 0.5),  # 5 read as S
    ("MH12DE5678", "MH12DE5G78", 0.5),  # 6 read as G
    ("MH12DE5678", "MH120E5678", 0.5),  # D read as 0
    ("TN09BQ4321", "TN09B04321", 0.5),  # Q read as 0
    ("KA01AB1234", "KAO1A81234", 1.0),  # two confusions
    ("KA01AB1234", "KA01AB1235", 1.0),  # one wrong character
    ("KA01AB1234", "KA01AB123", 1.0),  # one character missed
    ("KA01AB1234", "KA01AB12345", 1.0),  # one character too many
    ("KA01AB1234", "KAO1AB1235", 1.5),  # a confusion and a wrong character
    ("KA01AB1234", "KA01AB1299", 2.0),
    ("KA01AB1234", "MH12DE5678", 10.0),
]


@pytest.mark.parametrize(("listed", "read", "distance"), DISTANCES)
def test_plate_distance(listed: str, read: str, distance: float) -> None:
    assert plate_distance(listed, read) == distance
    assert plate_distance(read, listed) == distance


def weighted_edit_distance(a: str, b: str) -> float:
    """The exact weighted Levenshtein distance (full dynamic programme): the reference."""
    group = {c: g for g in CONFUSABLE_GROUPS for c in g}
    row = [float(j) for j in range(len(b) + 1)]
    for i, ca in enumerate(a, start=1):
        previous, row = row, [float(i)] + [0.0] * len(b)
        for j, cb in enumerate(b, start=1):
            sub = 0.0 if ca == cb else (CONFUSABLE_COST if ca in group and group[ca] == group.get(cb) else 1.0)
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + sub)
    return row[-1]


def test_plate_distance_never_exceeds_and_near_plates_equal_the_exact_weighted_distance() -> None:
    """The two-Levenshtein construction against a full DP on random plates with a few reader errors."""
    rng = random.Random(19)
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    look_alike = {c: g for g in CONFUSABLE_GROUPS for c in g}
    near_checked = 0
    for _ in range(3000):
        plate = "".join(rng.choice(alphabet) for _ in range(rng.randint(8, 10)))
        read = list(plate)
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(read))
            roll = rng.random()
            if roll < 0.5 and read[pos] in look_alike:
                read[pos] = rng.choice([c for c in look_alike[read[pos]] if c != read[pos]])
            elif roll < 0.75:
                read[pos] = rng.choice(alphabet)
            elif roll < 0.9:
                del read[pos]
            else:
                read.insert(pos, rng.choice(alphabet))
        read_text = "".join(read)
        exact = weighted_edit_distance(plate, read_text)
        ours = plate_distance(plate, read_text)
        assert ours <= exact, (plate, read_text)
        if exact <= 1.5:  # the range a watchlist threshold lives in
            near_checked += 1
            assert ours == exact, (plate, read_text, ours, exact)
    assert near_checked > 1000


def test_canonical_maps_each_group_to_one_character() -> None:
    for group in CONFUSABLE_GROUPS:
        assert {canonical(c) for c in group} == {group[0]}
    assert canonical("KA01AB1234") == "KA01A81234"


# --- matching through the lists ---------------------------------------------------------------


@pytest.mark.parametrize(("listed", "read", "distance"), [row for row in DISTANCES if row[2] <= 1.0])
def test_a_read_within_max_distance_matches_the_listed_plate(tmp_path, listed, read, distance) -> None:
    lists_ = watchlists(lists(tmp_path, {"stolen": ("alert", f"{listed},Reported stolen\n")}))
    assert lists_.match(read) == (WatchlistMatch("stolen", "alert", listed, "Reported stolen", distance),)


@pytest.mark.parametrize(("listed", "read", "distance"), [row for row in DISTANCES if row[2] > 1.0])
def test_a_different_plate_does_not_match(tmp_path, listed, read, distance) -> None:
    assert watchlists(lists(tmp_path, {"stolen": ("alert", f"{listed}\n")})).match(read) == ()


def test_the_threshold_is_per_list(tmp_path) -> None:
    config = WatchlistsConfig.model_validate({"lists": {
        "strict": {"kind": "allow", "file": str(write(tmp_path / "a.csv", "KA01AB1234\n")), "max_distance": 0.5},
        "loose": {"kind": "alert", "file": str(write(tmp_path / "b.csv", "KA01AB1234\n")), "max_distance": 1.0},
    }})
    found = watchlists(config)
    assert [m.list_name for m in found.match("KAO1AB1234")] == ["loose", "strict"]  # one confusion: both
    assert [m.list_name for m in found.match("KA01AB1235")] == ["loose"]  # a wrong character: only loose
    assert found.match("KA01AB1234")[0].distance == 0.0


def test_the_closest_entry_of_a_list_is_the_match(tmp_path) -> None:
    found = watchlists(lists(tmp_path, {"wanted": ("alert", "KA01AB1235,far\nKA01AB1234,exact\n")}))
    assert found.match("KA01AB1234")[0].label == "exact"


def test_annotate_fills_the_event_and_its_json(tmp_path, make_plate_event) -> None:
    found = watchlists(lists(tmp_path, {"residents": ("allow", "KA01AB0001,Flat 12\n")}))
    event = found.annotate(make_plate_event(1))
    assert event.watchlist == (WatchlistMatch("residents", "allow", "KA01AB0001", "Flat 12", 0.0),)
    data = event.to_json()
    assert data["watchlist"] == [{"list": "residents", "kind": "allow", "plate": "KA01AB0001", "label": "Flat 12",
                                  "distance": 0.0}]
    assert PlateEvent.from_json(data) == event
    assert found.annotate(make_plate_event(2, plate="MH12DE5678")).watchlist == ()


def test_a_list_for_other_cameras_is_not_used(tmp_path) -> None:
    config = lists(tmp_path, {"north": ("allow", "KA01AB1234\n")}, cameras=["gate-north"])
    assert watchlists(config, camera="gate-north").match("KA01AB1234") != ()
    assert watchlists(config, camera="gate-south").match("KA01AB1234") == ()


# --- list files ------------------------------------------------------------------------------


def test_list_file_format(tmp_path) -> None:
    text = ("\ufeffplate,label,expires\n"  # a spreadsheet's byte-order mark and header
            "# a comment line\n"
            "\n"
            "ka 01 ab-1234 , Flat 12 , 2027-01-31\n"
            "MH12DE5678\n"
            '"TN09BC4321","Doe, J.",\n')
    entries = read_list(write(tmp_path / "list.csv", text))
    assert [(e.plate, e.label, e.expires, e.line) for e in entries] == [
        ("KA01AB1234", "Flat 12", date(2027, 1, 31), 4),
        ("MH12DE5678", "", None, 5),
        ("TN09BC4321", "Doe, J.", None, 6),
    ]


def test_bad_lines_are_named_by_file_and_line(tmp_path) -> None:
    path = write(tmp_path / "bad.csv", "KA01AB1234\nKA01#B1234,label\nMH12DE5678,x,next week\nA,B,2026-01-01,extra\n")
    with pytest.raises(WatchlistError) as caught:
        read_list(path)
    lines = str(caught.value).splitlines()
    assert lines[0].startswith(f"{path}:2: plate 'KA01#B1234'") and "letters and digits" in lines[0]
    assert lines[1].startswith(f"{path}:3: expiry 'next week'") and "2026-12-31" in lines[1]
    assert lines[2].startswith(f"{path}:4: expected plate[,label[,expires]], got 4 fields")


@pytest.mark.parametrize(("make", "message"), [
    (lambda tmp: tmp / "missing.csv", "list file does not exist"),
    (lambda tmp: tmp, "is a directory"),
    (lambda tmp: (tmp / "latin1.csv").write_bytes(b"KA01AB1234,Caf\xe9\n") and tmp / "latin1.csv", "not UTF-8"),
])
def test_unreadable_list_files(tmp_path, make, message) -> None:
    path = make(tmp_path)
    with pytest.raises(WatchlistError, match=message) as caught:
        read_list(path)
    assert str(caught.value).startswith(str(path))


# --- reload ------------------------------------------------------------------------------------


def bump(path: Path, text: str) -> None:
    """Rewrite ``path`` with a modification time surely different from before."""
    before = path.stat().st_mtime_ns
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before + 1_000_000_000, before + 1_000_000_000))


def test_a_changed_file_is_reloaded_without_a_restart(tmp_path) -> None:
    clock = Clock()
    config = lists(tmp_path, {"residents": ("allow", "KA01AB1234\n")})
    found = watchlists(config, clock=clock)
    path = tmp_path / "residents.csv"
    bump(path, "KA01AB1234\nMH12DE5678,new tenant\n")
    found.poll()
    assert found.match("MH12DE5678") == ()  # not before check_interval_s
    clock.now = 1.0
    found.poll()
    assert found.match("MH12DE5678")[0].label == "new tenant"
    bump(path, "MH12DE5678,new tenant\n")  # KA01AB1234 moved out
    clock.now = 2.0
    found.poll()
    assert found.match("KA01AB1234") == () and found.health()["watchlists"]["residents"]["plates"] == 1


def test_a_bad_edit_keeps_the_last_good_list_and_says_where(tmp_path, caplog) -> None:
    clock = Clock()
    found = watchlists(lists(tmp_path, {"stolen": ("alert", "KA01AB1234\n")}), clock=clock)
    path = tmp_path / "stolen.csv"
    bump(path, "KA01AB1234\nMH12DE5678\nnot a plate!\n")
    clock.now = 1.0
    with caplog.at_level(logging.ERROR, logger="edge_alpr.watchlist"):
        found.poll()
    assert found.match("KA01AB1234") != ()  # the last good list is in force
    assert found.match("MH12DE5678") == ()  # nothing of the bad file is
    error = found.health()["watchlists"]["stolen"]["error"]
    assert error.startswith(f"{path}:3: plate 'not a plate!'")
    assert f"{path}:3:" in caplog.text and "keeping the last good list (1 plates)" in caplog.text
    caplog.clear()
    clock.now = 2.0
    with caplog.at_level(logging.ERROR, logger="edge_alpr.watchlist"):
        found.poll()  # unchanged since: not read, not logged again
    assert caplog.text == ""
    bump(path, "KA01AB1234\nMH12DE5678\n")  # fixed
    clock.now = 3.0
    found.poll()
    assert found.match("MH12DE5678") != () and found.health()["watchlists"]["stolen"]["error"] is None


def test_a_list_that_cannot_load_at_start_is_empty_until_fixed(tmp_path) -> None:
    clock = Clock()
    config = lists(tmp_path, {"stolen": ("alert", "KA01AB1234,x,someday\n")})
    found = watchlists(config, clock=clock)
    assert found.match("KA01AB1234") == ()
    assert "stolen.csv:1: expiry 'someday'" in found.errors()[0]
    bump(tmp_path / "stolen.csv", "KA01AB1234\n")
    clock.now = 1.0
    found.poll()
    assert found.match("KA01AB1234") != () and found.errors() == []


def test_a_file_replaced_by_rename_is_reloaded(tmp_path) -> None:
    """Sync tools and editors write a new file and rename it over the old one."""
    clock = Clock()
    found = watchlists(lists(tmp_path, {"stolen": ("alert", "KA01AB1234\n")}), clock=clock)
    path = tmp_path / "stolen.csv"
    fresh = write(tmp_path / "stolen.csv.tmp", "MH12DE5678\n")
    stat = path.stat()
    os.utime(fresh, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even with the same time and size
    os.replace(fresh, path)
    clock.now = 1.0
    found.poll()
    assert found.match("MH12DE5678") != () and found.match("KA01AB1234") == ()


# --- expiry ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("expires", "matches"), [
    (TODAY - timedelta(days=1), False),
    (TODAY, True),  # the expiry date is the last day it matches
    (TODAY + timedelta(days=1), True),
    (None, True),
])
def test_expired_entries_do_not_match(tmp_path, expires, matches) -> None:
    text = f"KA01AB1234,visitor,{'' if expires is None else expires.isoformat()}\n"
    found = watchlists(lists(tmp_path, {"visitors": ("allow", text)}))
    assert (found.match("KA01AB1234") != ()) == matches


def test_an_entry_expires_while_the_daemon_runs(tmp_path) -> None:
    days = iter([TODAY, TODAY + timedelta(days=1)])
    config = lists(tmp_path, {"visitors": ("allow", f"KA01AB1234,visitor,{TODAY.isoformat()}\n")})
    found = Watchlists(config, "cam1", clock=Clock(), today=lambda: next(days))
    assert found.match("KA01AB1234") != ()
    assert found.match("KA01AB1234") == ()


# --- the config around the lists -----------------------------------------------------------------


def load(tmp_path: Path, data: dict) -> AppConfig:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_config(path)


@pytest.mark.parametrize(("data", "where", "message"), [
    ({"watchlists": {"lists": {"stolen cars": {"file": "x.csv"}}}}, "watchlists.lists", "only letters, digits"),
    ({"watchlists": {"lists": {"stolen": {"kind": "alert"}}}}, "watchlists.lists.stolen", "needs a file"),
    ({"watchlists": {"lists": {"stolen": {"kind": "hot", "file": "x.csv"}}}}, "watchlists.lists.stolen.kind", "'alert'"),
    ({"watchlists": {"lists": {"stolen": {"file": "x.csv", "max_distance": 9}}}},
     "watchlists.lists.stolen.max_distance", "less than or equal to 4"),
    ({"gate": {"enabled": True}}, "gate", "no 'allow' list"),
    ({"watchlists": {"lists": {"stolen": {"file": "x.csv"}}}, "gate": {"enabled": True, "lists": ["stolen"]}},
     "gate", "an 'alert' list"),
    ({"watchlists": {"lists": {"staff": {"kind": "allow", "file": "x.csv"}}},
      "gate": {"enabled": True, "lists": ["residents"]}}, "gate", "not in watchlists.lists"),
    ({"watchlists": {"lists": {"staff": {"kind": "allow", "file": "x.csv"}}},
      "gate": {"enabled": True, "backends": ["mqtt"]}}, "gate", "outputs.mqtt.enabled is false"),
    ({"gate": {"backends": ["gpio", "gpio"]}}, "gate.backends", "twice"),
    ({"gate": {"backends": []}}, "gate.backends", "at least 1"),
    ({"gate": {"min_confidence": 1.5}}, "gate.min_confidence", "less than or equal to 1"),
])
def test_config_errors_name_the_key(tmp_path, data, where, message) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, data)
    text = str(caught.value)
    assert f": {where}: " in text and message in text, text


def test_check_config_reads_the_list_files(tmp_path, capsys) -> None:
    good = write(tmp_path / "good.csv", "KA01AB1234\n")
    bad = write(tmp_path / "bad.csv", "KA01AB1234\nKA01AB1234,x,31/12/2026\n")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"watchlists": {"lists": {
        "good": {"kind": "allow", "file": str(good)}, "bad": {"file": str(bad)}}}}))
    assert cli_main(["check-config", str(config)]) == ConfigError.exit_code
    err = capsys.readouterr().err
    assert f"watchlists.lists.bad.file: {bad}:2: expiry '31/12/2026'" in err and "good.csv" not in err
    write(bad, "KA01AB1234\n")
    assert cli_main(["check-config", str(config)]) == 0


# --- alerts through a real mosquitto -------------------------------------------------------------

ALERT_TOPIC = "edge-alpr/cam1/alert"
PLATE_TOPIC = "edge-alpr/cam1/plate"


@pytest.fixture
def alert_sinks(tmp_path, mosquitto):
    """A broker with persistence, a SinkSet publishing to it, and a watchlist with two stolen plates."""
    from test_mqtt import outputs_for

    from edge_alpr.sinks import build_sinks

    broker = mosquitto(persistence=True)
    outputs = outputs_for(tmp_path, broker.port, client_id="edge-alpr-alert-test")
    found = watchlists(lists(tmp_path, {"stolen": ("alert", "KA01AB0010,Reported stolen\nKA01AB0029\n"),
                                        "staff": ("allow", "KA01AB0020\n")}, max_distance=0.0))
    # max_distance 0: the test's plates KA01AB0000.. differ by one character from each other
    made = []

    def make():
        made.append(build_sinks(outputs, "cam1"))
        return made[-1]

    yield broker, make, found
    for sink_set in made:
        sink_set.close(timeout_s=1.0)


def alert_subscriber(broker):
    from broker import Subscriber

    return Subscriber(broker.port, [ALERT_TOPIC, PLATE_TOPIC], client_id="test-alerts", clean_session=False).start()


def topic_ids(subscriber, topic: str) -> list[str]:
    return [json.loads(m.payload)["event_id"] for m in subscriber.on(topic)]


@pytest.mark.integration
def test_no_alert_is_lost_when_the_broker_goes_down_and_comes_back(alert_sinks, make_plate_event) -> None:
    from broker import wait_until

    broker, make, found = alert_sinks
    subscriber = alert_subscriber(broker)
    sink_set = make()
    events = [found.annotate(make_plate_event(i)) for i in range(36)]
    alerts = [e.event_id for e in events if any(m.kind == "alert" for m in e.watchlist)]
    assert len(alerts) == 2  # KA01AB0010 and KA01AB0029; the staff plate is no alert
    for index, event in enumerate(events):
        if index == 5:
            broker.stop()  # down before both alerts
        if index == 33:
            health = sink_set.health()
            assert health["mqtt_connected"] is False and health["mqtt_alert_spool_depth"] == 2
            broker.start()
        sink_set.publish(event)
        time.sleep(0.03)
    assert wait_until(lambda: topic_ids(subscriber, ALERT_TOPIC) == alerts, 10), topic_ids(subscriber, ALERT_TOPIC)
    assert wait_until(lambda: set(topic_ids(subscriber, PLATE_TOPIC)) == {e.event_id for e in events}, 10)
    alert = subscriber.on(ALERT_TOPIC)[0]
    body = json.loads(alert.payload)
    assert alert.qos == 1 and not alert.retain
    assert body["plate"] == "KA01AB0010"
    assert body["watchlist"] == [{"list": "stolen", "kind": "alert", "plate": "KA01AB0010",
                                  "label": "Reported stolen", "distance": 0.0}]
    assert wait_until(lambda: sink_set.health()["mqtt_alert_spool_depth"] == 0, 3)
    assert sink_set.health()["mqtt_alerts_published"] == 2
    subscriber.stop()


@pytest.mark.integration
def test_after_an_outage_alerts_go_out_before_the_plate_backlog(alert_sinks, make_plate_event) -> None:
    from broker import wait_until

    broker, make, found = alert_sinks
    alert_subscriber(broker).stop()  # register the session, so the broker queues for it
    broker.stop()
    sink_set = make()
    events = [found.annotate(make_plate_event(i)) for i in range(40)]
    for event in events:
        sink_set.publish(event)
    broker.start()
    subscriber = alert_subscriber(broker)
    assert wait_until(lambda: len(subscriber.messages) == 42, 10), len(subscriber.messages)
    first = [(m.topic, json.loads(m.payload)["plate"]) for m in subscriber.messages[:2]]
    assert first == [(ALERT_TOPIC, "KA01AB0010"), (ALERT_TOPIC, "KA01AB0029")]
    subscriber.stop()


@pytest.mark.integration
def test_spooled_alerts_survive_a_restart_of_the_daemon(alert_sinks, make_plate_event) -> None:
    """Alerts spooled while the broker is away are sent by the next start, like plate events."""
    from broker import wait_until

    broker, make, found = alert_sinks
    alert_subscriber(broker).stop()
    broker.stop()
    first = make()
    first.publish(found.annotate(make_plate_event(10)))
    first.close(timeout_s=0.5)
    broker.start()
    subscriber = alert_subscriber(broker)
    second = make()
    assert wait_until(lambda: topic_ids(subscriber, ALERT_TOPIC) == ["evt-000010"], 10)
    assert wait_until(lambda: second.health()["mqtt_alert_spool_depth"] == 0, 3)
    subscriber.stop()


# --- the shipped examples ------------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[1]


def test_the_demo_video_has_one_hotlisted_and_one_allow_listed_vehicle(monkeypatch) -> None:
    """demo/demo.json's vehicles against the lists config/demo.yaml names (paths from the repo root)."""
    from edge_alpr.synth.scenes import VideoTruth

    monkeypatch.chdir(REPO)
    cfg = load_config(REPO / "config" / "demo.yaml")
    found = Watchlists(cfg.watchlists, cfg.camera_id)
    assert found.errors() == []
    matches = {v.plate: found.match(v.plate) for v in VideoTruth.load(REPO / "demo" / "demo.json").vehicles}
    on_lists = {plate: [(m.list_name, m.kind) for m in found_] for plate, found_ in matches.items() if found_}
    assert on_lists == {"HR26DQ8052": [("hotlist", "alert")], "KA03MX2718": [("residents", "allow")]}
    assert matches["HR26DQ8052"][0].distance == 0.5  # listed as HR26DQ8O52: the fuzzy match at work
    assert cfg.gate.enabled and cfg.gate.backends == ["log"]


def test_the_access_control_example_and_its_lists() -> None:
    cfg = load_config(REPO / "config" / "access-control.yaml")
    assert cfg.gate.lists == ["residents", "staff"] and set(cfg.watchlists.lists) == {"hotlist", "residents", "staff"}
    for name, list_config in cfg.watchlists.lists.items():
        assert list_config.file is not None and list_config.file.name == f"{name}.csv"
        assert read_list(REPO / "config" / "lists" / list_config.file.name)  # the example file parses
