"""``edge-alpr bench``: speed and memory figures of this machine, for the daemon and its models.

    edge-alpr bench pipeline [--video PATH] [--seconds N] [--threads N]
    edge-alpr bench detector [--images N] [--threads N [N ...]]
    edge-alpr bench reader   [--threads N] [--limit N]
    edge-alpr bench all      [--video PATH] [--seconds N] [--images N] [--limit N]
    edge-alpr bench pace     [--device pi4 pi5] [--video PATH | --scene WxH] [--set KEY=VALUE ...]
    common options:          [--config FILE] [--models DIR] [--datasets DIR] [--json]

* ``pipeline`` replays a video (default: a generated 1280x720, 25 fps roadside clip) through
  the daemon's own ``Pipeline`` as fast as it can, once with motion gating on and once with
  it off, so the gain of gating is a ratio measured in one run. The stage latencies
  are the ones the pipeline measures itself; only decoding is timed here. Events are
  collected in memory (no sinks).
* ``detector`` times ``PlateDetector.detect`` (letterbox, inference, decoding, NMS) of the
  int8 and float16 models on the same frames, interleaved so that a background job slows
  both alike: the detector's validation photos from the shared datasets, else frames of a
  generated video.
* ``reader`` reads the same crops (the real Indian validation crops of ``in_plates``, else
  rendered plates) with the project's int8 and float16 recognizers, PP-OCRv4 (rapidocr) and
  Tesseract 5, and gives exact and character accuracy, split by one/two-line layout, and
  milliseconds per crop.
* ``all`` runs the three and ends with one markdown summary table.
* ``pace`` replays a video at a Raspberry Pi 4's or 5's modelled pace with live-camera
  semantics (only the newest frame is processed) and scores plates and latency (``pace``).

Every figure says what was measured and over how many samples. Timings depend on what else
the machine does: a warning is printed when the 1-minute load average is above 1.5.

Benchmarks with a command of their own run as ``python -m edge_alpr.bench.NAME``: ``strategies``
(detector strategies per frame size), ``soak`` (memory over a long run), ``reader_heldout`` (the
reader on every held-out set), ``input_size`` (detector input sizes).

One module per benchmark (``pipeline``, ``detector``, ``reader``), what they share in
``common``, and the command line in ``cli``, whose ``main`` is what ``edge-alpr bench`` calls.
"""
from __future__ import annotations

from edge_alpr.bench.cli import main

__all__ = ["main"]
