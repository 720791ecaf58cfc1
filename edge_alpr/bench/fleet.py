"""Fleet soak: N daemons on one mosquitto, a broker that restarts, daemons killed with kill -9.

    python -m edge_alpr.bench.fleet [--daemons 20] [--minutes 30] [--json OUT] [--keep]

Starts a private mosquitto on 127.0.0.1 (persistent sessions, as a control-room broker keeps
them) and N real daemons (``python -m edge_alpr run``), each looping a generated roadside clip in
real time under its own ``camera_id`` (``fleet-00``, ``fleet-01``...). A subscriber with a
persistent session counts what arrives on ``edge-alpr/+/plate`` by ``event_id``. During the run:

* at 25 % and 60 % of it the broker is stopped (SIGTERM, as ``systemctl restart mosquitto``
  does), left down for ``--outage-s`` and started again on the same port;
* at 40 % one daemon is killed with ``kill -9``, and during the second outage another one,
  which then holds undelivered events in its spool; each is started again after a few seconds
  and must resend what its spool held.

At the end every daemon gets SIGTERM, the subscriber waits for the last deliveries, and the
run prints: events produced (every ``event_id`` in the daemons' plate logs) against received,
lost (produced, never received and not waiting in a spool: must be 0), duplicates (redeliveries
of an ``event_id`` already received), the broker's and the daemons' RSS, and the latency from
an event's line appearing in its plate log to its arrival at the subscriber (p50/p95/p99/max,
outages included). Exit code 1 when an event was lost or a daemon died on its own.

A 2-core machine cannot run 20 daemons at full speed, so the clips are small (640x360, 10 fps,
four cars), played in real time (``source.realtime``), and each daemon detects on every second
frame (``detector.detect_every_n_frames: 2``) with one detector and one reader thread.
The daemons themselves are in fleet_units.py. Reuses soak.py's broker, subscriber, config and RSS helpers.
"""
from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from edge_alpr.bench.common import run_in_workdir
from edge_alpr.bench.fleet_units import PlateLogWatcher, Unit, make_clips, unit_config
from edge_alpr.bench.soak import MIB, Received, rss_bytes, spool_state, start_mosquitto, subscribe

TOPIC_ROOT = "edge-alpr/+"  # every camera's plate topic under the default prefix
RESTART_DELAY_S = 3.0  # a killed daemon comes back this long after (systemd's RestartSec is 5)


# --- the run ------------------------------------------------------------------------------------


class Broker:
    """soak.py's mosquitto, with persistence, that can be restarted on its port."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.process, self.port = start_mosquitto(workdir, persistence=True)
        self.rss_samples: list[int] = []
        self.restarts = 0

    def restart(self, outage_s: float) -> None:
        self.process.terminate()  # saves the persistent sessions, as a service restart does
        self.process.wait(10)
        time.sleep(outage_s)
        self.process, _ = start_mosquitto(self.workdir, self.port, persistence=True)
        self.restarts += 1

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def fleet(args: argparse.Namespace, workdir: Path) -> int:
    clips = make_clips(workdir, min(args.clips, args.daemons))
    broker = Broker(workdir / "broker")
    received = Received()
    subscriber = subscribe(broker.port, TOPIC_ROOT, received, persistent=True)
    units = []
    for index in range(args.daemons):
        camera_id = f"fleet-{index:02d}"
        unit_dir = workdir / camera_id
        unit_dir.mkdir()
        config = unit_config(args.config, clips[index % len(clips)], broker.port, unit_dir, camera_id)
        units.append(Unit(camera_id, unit_dir, config))
    watcher = PlateLogWatcher(units)
    notes: list[str] = []
    try:
        for unit in units:
            unit.start()
            time.sleep(0.3)  # model loading of 20 daemons at once would stall the machine
        print(f"fleet: {len(units)} daemons, broker 127.0.0.1:{broker.port}, {args.minutes:g} min, work dir {workdir}")
        crashed = run_schedule(args, broker, units, received, notes)
        stopped = stop_all(units)
        drain(received, units, args.drain_s)
        subscriber.disconnect()
        subscriber.loop_stop()
        watcher.stop()
        figures = summarise(args, broker, units, received, watcher, notes, crashed, stopped)
    finally:
        for unit in units:
            if unit.process is not None and unit.process.poll() is None:
                unit.process.kill()
        broker.stop()
    print_summary(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0 if figures["lost"] == 0 and not figures["crashed"] and figures["received"] > 0 else 1


def run_schedule(args: argparse.Namespace, broker: Broker, units: list[Unit], received: Received,
                 notes: list[str]) -> list[str]:
    """Sample RSS until the end, doing the faults at their times; returns units that died on their own."""
    duration = args.minutes * 60
    started = time.monotonic()
    first, second = units[0], units[len(units) // 2]
    faults = [
        (0.25, "restart the broker", lambda: broker.restart(args.outage_s)),
        (0.40, f"kill -9 {first.camera_id}", lambda: kill_and_restart(first, notes)),
        (0.60, f"restart the broker, kill -9 {second.camera_id} while it is down",
         lambda: outage_with_kill(broker, second, args.outage_s, notes)),
    ]
    crashed: list[str] = []
    next_sample = started
    print(f"{'elapsed':>8} {'received':>9} {'broker MiB':>10} {'daemons MiB (median/max)':>25}")
    while (elapsed := time.monotonic() - started) < duration:
        while faults and elapsed >= faults[0][0] * duration:
            _, what, action = faults.pop(0)
            print(f"fleet: {elapsed:.0f} s: {what}", flush=True)
            action()
            elapsed = time.monotonic() - started
        for unit in units:
            if unit.process is not None and unit.process.poll() is not None and unit.camera_id not in crashed:
                crashed.append(unit.camera_id)
                print(f"fleet: {unit.camera_id} exited on its own with {unit.process.returncode}; see {unit.stderr_path}")
        if time.monotonic() >= next_sample:
            next_sample += args.sample_s
            sample(broker, units, received, elapsed)
        time.sleep(0.5)
    return crashed


def sample(broker: Broker, units: list[Unit], received: Received, elapsed: float) -> None:
    broker_rss = rss_bytes(broker.process.pid) or 0
    broker.rss_samples.append(broker_rss)
    daemon_rss = []
    for unit in units:
        rss = rss_bytes(unit.process.pid) if unit.process is not None else None
        if rss:
            unit.rss_samples.append(rss)
            daemon_rss.append(rss)
    with received.lock:
        count = len(received.event_ids)
    median = float(np.median(daemon_rss)) / MIB if daemon_rss else 0.0
    peak = max(daemon_rss, default=0) / MIB
    print(f"{elapsed:7.0f}s {count:9d} {broker_rss / MIB:10.1f} {median:16.1f} / {peak:6.1f}", flush=True)


def kill_and_restart(unit: Unit, notes: list[str]) -> None:
    unit.kill()
    spooled = spool_state(unit.spool)[1]
    notes.append(f"{unit.camera_id} killed with {spooled} events in its spool")
    time.sleep(RESTART_DELAY_S)
    unit.start()


def outage_with_kill(broker: Broker, unit: Unit, outage_s: float, notes: list[str]) -> None:
    broker.process.terminate()
    broker.process.wait(10)
    time.sleep(outage_s / 2)  # events pile up in the spools
    unit.kill()
    spooled = spool_state(unit.spool)[1]
    notes.append(f"{unit.camera_id} killed during a broker outage with {spooled} events in its spool")
    time.sleep(outage_s / 2)
    broker.process, _ = start_mosquitto(broker.workdir, broker.port, persistence=True)
    broker.restarts += 1
    time.sleep(RESTART_DELAY_S)
    unit.start()


def stop_all(units: list[Unit]) -> dict[str, int | None]:
    """SIGTERM to every daemon at once, then their exit codes (None: killed after 15 s)."""
    for unit in units:
        if unit.process is not None and unit.process.poll() is None:
            unit.process.send_signal(signal.SIGTERM)
    codes: dict[str, int | None] = {}
    for unit in units:
        assert unit.process is not None
        try:
            codes[unit.camera_id] = unit.process.wait(15)
        except subprocess.TimeoutExpired:
            unit.process.kill()
            codes[unit.camera_id] = None
    return codes


def drain(received: Received, units: list[Unit], timeout_s: float) -> None:
    """Wait until every produced event has arrived, or ``timeout_s``."""
    produced = set().union(*(unit.logged_events() for unit in units))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with received.lock:
            if produced <= received.event_ids:
                return
        time.sleep(0.2)


def summarise(args: argparse.Namespace, broker: Broker, units: list[Unit], received: Received,
              watcher: PlateLogWatcher, notes: list[str], crashed: list[str], stopped: dict[str, int | None]) -> dict:
    produced: set[str] = set()
    for unit in units:
        produced |= set(unit.logged_events())
    spooled: set[str] = set()
    for unit in units:
        spooled |= set(_spooled_ids(unit.spool))
    with received.lock:
        got, messages, arrivals = set(received.event_ids), received.messages, dict(received.arrivals)
    latencies = [arrivals[e] - watcher.produced_at[e] for e in got & produced if e in watcher.produced_at]
    percentiles = {f"p{q}": round(float(np.percentile(latencies, q)), 3) for q in (50, 95, 99)} if latencies else {}
    final_rss = [unit.rss_samples[-1] for unit in units if unit.rss_samples]
    return {
        "daemons": args.daemons,
        "minutes": args.minutes,
        "broker_restarts": broker.restarts,
        "daemons_killed": sum(unit.kills for unit in units),
        "notes": notes,
        "produced": len(produced),
        "received": len(got & produced),
        "lost": len(produced - got - spooled),
        "still_spooled": len(spooled - got),
        "unknown_received": len(got - produced),
        "duplicates": messages - len(got),
        "events_per_s": round(len(produced) / (args.minutes * 60), 2),
        "latency_s": {**percentiles, "max": round(max(latencies), 3) if latencies else None, "events": len(latencies)},
        "broker_rss_mib": {"max": _mib(max(broker.rss_samples, default=0)),
                           "end": _mib(broker.rss_samples[-1] if broker.rss_samples else 0)},
        "daemon_rss_mib": {"median_end": _mib(float(np.median(final_rss))) if final_rss else None,
                           "max": _mib(max((max(u.rss_samples) for u in units if u.rss_samples), default=0)),
                           "total_end": _mib(sum(final_rss))},
        "crashed": crashed,
        "stop_codes": sorted({str(code) for code in stopped.values()}),
    }


def _spooled_ids(path: Path) -> list[str]:
    import sqlite3

    if not path.exists():
        return []
    db = sqlite3.connect(path)
    try:
        return [row[0] for row in db.execute("SELECT event_id FROM events")]
    except sqlite3.Error:
        return []
    finally:
        db.close()


def _mib(value: float) -> float:
    return round(value / MIB, 1)


def print_summary(f: dict) -> None:
    latency = f["latency_s"]
    print("\n--- fleet summary ---")
    print(f"run               {f['daemons']} daemons, {f['minutes']:g} min, broker restarted {f['broker_restarts']}x, "
          f"{f['daemons_killed']} daemons killed with kill -9")
    for note in f["notes"]:
        print(f"                  {note}")
    print(f"events produced   {f['produced']} ({f['events_per_s']}/s)")
    print(f"events received   {f['received']}")
    print(f"lost              {f['lost']}")
    print(f"duplicates        {f['duplicates']} redeliveries of an event_id already received")
    print(f"still spooled     {f['still_spooled']} (undelivered at the end, sent at the next start)")
    print(f"unknown received  {f['unknown_received']}")
    print(f"latency           p50 {latency.get('p50')} s, p95 {latency.get('p95')} s, p99 {latency.get('p99')} s, "
          f"max {latency.get('max')} s (plate log -> subscriber, {latency['events']} events)")
    print(f"broker RSS        max {f['broker_rss_mib']['max']} MiB, end {f['broker_rss_mib']['end']} MiB")
    d = f["daemon_rss_mib"]
    print(f"daemon RSS        median {d['median_end']} MiB at the end, max {d['max']} MiB, all together {d['total_end']} MiB")
    print(f"daemon exits      {', '.join(f['stop_codes'])} after SIGTERM; died on their own: {f['crashed'] or 'none'}")
    print("RESULT            " + ("PASS: nothing lost" if f["lost"] == 0 and not f["crashed"] else "FAIL"))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--daemons", type=int, default=20, help="daemons in the fleet (default 20)")
    parser.add_argument("--minutes", type=float, default=30.0, help="how long to run (default 30)")
    parser.add_argument("--clips", type=int, default=4, help="different generated clips, shared out (default 4)")
    parser.add_argument("--config", type=Path, help="base daemon config (detector, tracker, voting...)")
    parser.add_argument("--outage-s", type=float, default=5.0, help="seconds the broker stays down (default 5)")
    parser.add_argument("--sample-s", type=float, default=10.0, help="seconds between RSS samples (default 10)")
    parser.add_argument("--drain-s", type=float, default=60.0,
                        help="longest wait for the last deliveries after the stop (default 60)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, spools, configs)")
    args = parser.parse_args(argv)
    if args.daemons < 2 or args.minutes <= 0 or args.clips < 1 or args.outage_s < 0:
        parser.error("--daemons must be at least 2 (two are killed), --minutes and --clips positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_in_workdir("fleet", lambda workdir: fleet(args, workdir), args.keep)

if __name__ == "__main__":
    sys.exit(main())
