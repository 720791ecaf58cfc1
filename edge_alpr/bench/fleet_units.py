"""The fleet soak's daemons (``bench.fleet``): one unit per camera with its own config, clip and
work folder, and a watcher that notes when each event reaches a unit's plate log."""
from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from edge_alpr.bench.soak import launch_daemon, soak_config


@dataclass
class Unit:
    """One daemon of the fleet: its camera, work directory and process."""

    camera_id: str
    workdir: Path
    config: Path
    process: subprocess.Popen | None = None
    kills: int = 0
    rss_samples: list[int] = field(default_factory=list)

    @property
    def stderr_path(self) -> Path:
        return self.workdir / "daemon.log"

    @property
    def spool(self) -> Path:
        return self.workdir / "spool.sqlite3"

    def start(self) -> None:
        self.process = launch_daemon(self.config, self.stderr_path)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.kills += 1

    def logged_events(self) -> dict[str, dict]:
        """event_id -> event of every complete line in the plate log (rotated files included)."""
        events = {}
        for path in sorted((self.workdir / "log").glob("plates.jsonl*")):
            for line in path.read_text(errors="replace").splitlines():
                try:
                    event = json.loads(line)
                except ValueError:  # a line being written, or cut by kill -9
                    continue
                events[event["event_id"]] = event
        return events


def unit_config(base: Path | None, video: Path, port: int, workdir: Path, camera_id: str) -> Path:
    """soak.py's config for ``video``, made one of many: own camera and client id, real time, light."""
    path = soak_config(base, video, port, workdir)
    data = yaml.safe_load(path.read_text())
    data["camera_id"] = camera_id
    data["source"]["realtime"] = True
    data["outputs"]["mqtt"].update(client_id=f"edge-alpr-{camera_id}", reconnect_min_s=0.5, reconnect_max_s=5.0)
    if base is None:
        data["detector"] = {"num_threads": 1, "detect_every_n_frames": 2}
        data["reader"] = {"num_threads": 1}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def make_clips(workdir: Path, count: int) -> list[Path]:
    from edge_alpr.synth.scenes import make_video

    clips = []
    for seed in range(count):
        path = workdir / f"clip-{seed}.mp4"
        truth = make_video(path, seed=100 + seed, n_vehicles=4, size=(640, 360), fps=10.0, seconds_per_vehicle=4.0,
                           kinds=["car"])
        print(f"fleet: {path.name}: {truth.frames} frames at 10 fps, plates {', '.join(v.plate for v in truth.vehicles)}")
        clips.append(path)
    return clips


class PlateLogWatcher:
    """Notes when each event's line first appears in a plate log: the start of its latency."""

    def __init__(self, units: list[Unit], interval_s: float = 0.2) -> None:
        self.units = units
        self.interval_s = interval_s
        self.produced_at: dict[str, float] = {}
        self._offsets: dict[Path, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="plate-log-watcher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            for unit in self.units:
                self._scan(unit.workdir / "log" / "plates.jsonl")

    def _scan(self, path: Path) -> None:
        try:
            with path.open("rb") as file:
                file.seek(self._offsets.get(path, 0))
                data = file.read()
        except OSError:
            return
        complete = data[: data.rfind(b"\n") + 1]
        self._offsets[path] = self._offsets.get(path, 0) + len(complete)
        now = time.time()
        for line in complete.splitlines():
            try:
                self.produced_at.setdefault(json.loads(line)["event_id"], now)
            except (ValueError, KeyError):
                continue

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
