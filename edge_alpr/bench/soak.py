"""Soak test: the real daemon replaying a video in a loop for a while, watched from outside.

    python -m edge_alpr.bench.soak [--minutes 30] [--video PATH] [--config FILE] [--keep]

Starts a private mosquitto on 127.0.0.1 (a free port, nothing else is contacted), then
``python -m edge_alpr run`` (what the ``edge-alpr`` script runs) with the video looping, MQTT to
that broker and the plate log and spool in a temporary directory. Every ``--sample-s`` seconds it
records the daemon's resident memory (psutil when installed, else ``VmRSS`` from /proc) and the
plate events a subscriber has received. At the end it stops the daemon with SIGTERM and prints
events/s, memory after the warm-up, at the end and at most, the memory growth and the spool size.

Without ``--video`` a roadside video with known plates is generated (``edge_alpr.synth.scenes``).
``--config`` is a base config: its source, MQTT connection, plate log and spool are replaced by
the soak's; everything else (detector, tracker, voting...) is kept. Without it, duplicate
suppression is off so that every pass of the loop reports its plates again.

Not run in CI: it takes minutes and a whole core or more.
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import yaml

from edge_alpr.bench.common import run_in_workdir
from edge_alpr.config import load_config
from edge_alpr.errors import EdgeAlprError

REPO_ROOT = Path(__file__).resolve().parents[2]

MIB = 1024 * 1024
CLIENT_ID = "edge-alpr-soak"


# --- the broker and the subscriber -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_mosquitto(workdir: Path, port: int | None = None, *, persistence: bool = False) -> tuple[subprocess.Popen, int]:
    """A throwaway broker on 127.0.0.1; returns the process and its port once it listens.

    ``port`` starts it again where it was; with ``persistence`` a SIGTERM saves the persistent
    sessions (and their queued messages) to ``workdir``, and the next start loads them.
    """
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.access(binary, os.X_OK):
        sys.exit("soak: mosquitto is not installed (apt install mosquitto)")
    port = port or free_port()
    conf = workdir / "mosquitto.conf"
    # As root mosquitto would drop to the 'mosquitto' user, who may not read the temp directory.
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence {str(persistence).lower()}\n"
                    f"persistence_location {workdir}/\nuser {getpass.getuser()}\nmax_queued_messages 1000000\n")
    log = open(workdir / "mosquitto.log", "ab")
    process = subprocess.Popen([binary, "-c", str(conf)], stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"soak: mosquitto exited at start; see {workdir / 'mosquitto.log'}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.05)
    process.kill()
    sys.exit("soak: mosquitto did not start listening within 10 s")


@dataclass
class Received:
    """What the subscriber has seen; updated from paho's thread."""

    messages: int = 0
    event_ids: set[str] = field(default_factory=set)
    arrivals: dict[str, float] = field(default_factory=dict)  # event_id -> time.time() it first arrived
    last_status: dict | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def subscribe(port: int, topic_root: str, received: Received, *, persistent: bool = False) -> mqtt.Client:
    """A QoS 1 subscriber to ``<topic_root>/plate`` and ``/status``. ``persistent`` keeps its session
    on the broker (a fixed client id, clean_session off), so messages wait for it while it is away."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"edge-alpr-soak-subscriber-{os.getpid()}",
                         clean_session=not persistent)
    client.reconnect_delay_set(0.2, 2.0)  # back soon after a broker restart

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        client.subscribe([(f"{topic_root}/plate", 1), (f"{topic_root}/status", 0)])

    def on_message(client, userdata, message: mqtt.MQTTMessage) -> None:
        try:
            payload = json.loads(message.payload)
        except ValueError:
            return
        with received.lock:
            if message.topic.endswith("/plate"):
                received.messages += 1
                event_id = payload.get("event_id", "")
                received.event_ids.add(event_id)
                received.arrivals.setdefault(event_id, time.time())
            else:
                received.last_status = payload

    client.on_connect = on_connect
    client.on_message = on_message
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    return client


# --- the daemon --------------------------------------------------------------------------------


def soak_config(base: Path | None, video: Path, port: int, workdir: Path) -> Path:
    """The daemon's config: the base config with the soak's source, broker, log and spool."""
    data = yaml.safe_load(base.read_text()) if base is not None else None
    data = data or {}
    if not isinstance(data, dict):
        sys.exit(f"soak: {base}: the top level must be a mapping")
    if base is None:
        data["voting"] = {"dedup_window_s": 0}  # every pass of the loop is a new set of vehicles
    data["source"] = {"kind": "file", "uri": str(video), "loop": True}
    outputs = data.setdefault("outputs", {})
    outputs["mqtt"] = {"enabled": True, "host": "127.0.0.1", "port": port, "client_id": CLIENT_ID}
    outputs["plate_log"] = {**(outputs.get("plate_log") or {}), "enabled": True, "directory": str(workdir / "log")}
    outputs["spool"] = {**(outputs.get("spool") or {}), "path": str(workdir / "spool.sqlite3")}
    if isinstance(outputs.get("crops"), dict) and outputs["crops"].get("enabled"):
        outputs["crops"]["directory"] = str(workdir / "crops")
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def launch_daemon(config: Path, stderr_path: Path) -> subprocess.Popen:
    """``python -m edge_alpr run --config config`` (what ``edge-alpr run`` runs), stderr appended to a file."""
    python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": python_path}
    with open(stderr_path, "ab") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "edge_alpr", "run", "--config", str(config), "--no-print-events"],
            cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
        )


def rss_bytes(pid: int) -> int | None:
    """Resident memory of ``pid``; None once it is gone."""
    try:
        import psutil

        try:
            return int(psutil.Process(pid).memory_info().rss)
        except psutil.Error:
            return None
    except ImportError:
        pass
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def spool_state(path: Path) -> tuple[int, int]:
    """Bytes on disk (database + WAL) and events still waiting for the broker."""
    size = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    if not path.exists():
        return size, 0
    db = sqlite3.connect(path)
    try:
        waiting = db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    except sqlite3.Error:
        waiting = -1
    finally:
        db.close()
    return size, waiting


# --- the run -------------------------------------------------------------------------------------


@dataclass
class Sample:
    elapsed_s: float
    rss: int
    events: int


def default_video(workdir: Path) -> Path:
    from edge_alpr.synth.scenes import make_video

    path = workdir / "soak.mp4"
    print("soak: generating a roadside video (6 vehicles, 1280x720, 25 fps)...", flush=True)
    truth = make_video(path, seed=1, n_vehicles=6, size=(1280, 720), fps=25.0)
    print(f"soak: {path.name}: {truth.frames} frames, plates {', '.join(v.plate for v in truth.vehicles)}")
    return path


def soak(args: argparse.Namespace, workdir: Path) -> int:
    video = args.video.resolve() if args.video else default_video(workdir)
    if not video.is_file():
        sys.exit(f"soak: {video}: no such video file")
    broker, port = start_mosquitto(workdir)
    daemon: subprocess.Popen | None = None
    try:
        config = soak_config(args.config, video, port, workdir)
        try:
            cfg = load_config(config)  # the daemon would refuse it too; say so before starting
        except EdgeAlprError as error:
            sys.exit(f"soak: {error}")
        topic_root = f"{cfg.outputs.mqtt.topic_prefix}/{cfg.camera_id}"
        received = Received()
        subscriber = subscribe(port, topic_root, received)
        stderr_path = workdir / "daemon.log"
        daemon = launch_daemon(config, stderr_path)
        print(f"soak: daemon pid {daemon.pid}, broker 127.0.0.1:{port}, work dir {workdir}")
        print(f"soak: {args.minutes:g} min, RSS sampled every {args.sample_s:g} s, baseline after {args.warmup_s:g} s")
        samples = watch(daemon, received, args)
        code = stop(daemon)
        time.sleep(1.0)  # the last acknowledgements
        subscriber.disconnect()
        subscriber.loop_stop()
        report(samples, received, workdir, args, code, stderr_path)
        return 0 if code == 0 and samples else 1
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.kill()
        broker.terminate()
        broker.wait(5)


def watch(daemon: subprocess.Popen, received: Received, args: argparse.Namespace) -> list[Sample]:
    started = time.monotonic()
    end = started + args.minutes * 60
    samples: list[Sample] = []
    print(f"{'elapsed':>8} {'RSS MiB':>8} {'events':>7}")
    while time.monotonic() < end:
        time.sleep(min(args.sample_s, max(0.0, end - time.monotonic())))
        rss = rss_bytes(daemon.pid)
        if daemon.poll() is not None or rss is None:
            print(f"soak: the daemon exited early with code {daemon.returncode}")
            break
        with received.lock:
            events = len(received.event_ids)
        samples.append(Sample(time.monotonic() - started, rss, events))
        print(f"{samples[-1].elapsed_s:7.0f}s {rss / MIB:8.1f} {events:7d}", flush=True)
    return samples


def stop(daemon: subprocess.Popen) -> int | None:
    if daemon.poll() is not None:
        return daemon.returncode
    started = time.monotonic()
    daemon.send_signal(signal.SIGTERM)
    try:
        code = daemon.wait(15)
    except subprocess.TimeoutExpired:
        daemon.kill()
        print("soak: the daemon ignored SIGTERM for 15 s and was killed")
        return None
    print(f"soak: SIGTERM -> exit {code} in {time.monotonic() - started:.1f} s")
    return code


def report(samples: list[Sample], received: Received, workdir: Path, args: argparse.Namespace,
           code: int | None, stderr_path: Path) -> None:
    if not samples:
        print(f"soak: no samples; the daemon's log is {stderr_path}:")
        print(stderr_path.read_text(errors="replace")[-3000:])
        return
    after_warmup = [s for s in samples if s.elapsed_s >= args.warmup_s] or samples[-1:]
    baseline, last = after_warmup[0], samples[-1]
    spool_bytes, spool_waiting = spool_state(workdir / "spool.sqlite3")
    duration = last.elapsed_s
    with received.lock:
        unique, messages, status = len(received.event_ids), received.messages, received.last_status
    print("\n--- soak summary ---")
    print(f"duration          {duration:.0f} s, daemon exit code {code}")
    print(f"events            {unique} received ({messages - unique} duplicate deliveries), {unique / duration:.2f}/s")
    if status:
        total = status.get("latency_ms", {}).get("total", {})
        print(f"last status       {status.get('fps_in')} fps in, {status.get('fps_processed')} processed, "
              f"frame p50 {total.get('p50')} ms p95 {total.get('p95')} ms, errors {status.get('errors')}")
    print(f"RSS at start      {baseline.rss / MIB:.1f} MiB (at {baseline.elapsed_s:.0f} s, after warm-up)")
    print(f"RSS at end        {last.rss / MIB:.1f} MiB")
    print(f"RSS max           {max(s.rss for s in samples) / MIB:.1f} MiB")
    growth, span = (last.rss - baseline.rss) / MIB, last.elapsed_s - baseline.elapsed_s
    print(f"RSS growth        {growth:+.1f} MiB over {span:.0f} s")
    print(f"spool             {spool_bytes / 1024:.0f} KiB on disk, {spool_waiting} events not yet acknowledged")
    if code != 0:
        print(f"\nthe daemon's log ({stderr_path}) ends:\n{stderr_path.read_text(errors='replace')[-3000:]}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="how long to run (default 30)")
    parser.add_argument("--video", type=Path, help="video to loop (default: a generated roadside video)")
    parser.add_argument("--config", type=Path, help="base daemon config (detector, tracker, voting...)")
    parser.add_argument("--sample-s", type=float, default=10.0, help="seconds between RSS samples (default 10)")
    parser.add_argument("--warmup-s", type=float, default=30.0,
                        help="seconds before the baseline RSS sample (default 30)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, spool, config)")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.sample_s <= 0 or args.warmup_s < 0:
        parser.error("--minutes and --sample-s must be positive, --warmup-s not negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_in_workdir("soak", lambda workdir: soak(args, workdir), args.keep)

if __name__ == "__main__":
    sys.exit(main())
