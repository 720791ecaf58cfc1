"""Labels this project keeps beside the shared datasets, keyed by image and box.

Some real sets come with plate boxes but no text (``openlpr``, ``in_twowheelers``,
``in_odisha_traffic``). Their texts were read by eye for this project and live in
``edge_alpr/datasets/labels/<dataset>.jsonl``, so the datasets themselves stay unchanged. One
line per plate box::

    {"image": "images/0000.jpg", "box": [59, 658, 340, 752], "text": "TN09AB1234",
     "status": "ok", "layout": "two", "background": "white", "ink": "black", "split": "val"}

A label may also carry ``tight_box``: the plate itself inside a loose ``box`` (the two-wheeler
sets box the plate holder, mudguard and lamp with it), found by ``python -m
edge_alpr.datasets.tight_boxes`` where the reader reads the label's text and checked by eye in
its montage. The reader trains on the tight crop; the reader's validation keeps ``box``.

A label of any status may carry ``plate_box``: the plate's own outline, proposed by ``python -m
edge_alpr.datasets.plate_boxes`` and accepted by eye. Detection trains and is scored on it
(``PlateBox.outline``), so a snug detector box on a loosely boxed plate counts as found.

A label with ``"added": true`` is a plate the source left unboxed (the two-wheeler set boxes
two-wheelers only, not the bus or the scooter beside them), boxed and read by this project: it
joins its image's plates, so a detector box on it is not scored as a false one.

A ``partial`` label with ``"agreed": true`` is one that every blind reading (the two passes and
the third, ``datasets/third_pass.py``) read as the same text, a text the Indian grammar accepts,
though no reader was certain of every character. It stays ``partial``: out of every accuracy
figure and of training by default; the reader's training takes it only when asked
(``--agreed-partials``), as three readers' shared best guess.

Only ``image``, ``box`` and ``text`` are required (``openlpr.jsonl``'s first reading, its Indian
plates, has little more: every such text was checked and is ``ok``; its later lines, any
country's plates read in two blind passes by ``datasets.unread``, carry layout and split too).
``status`` is ``ok`` (every character certain), ``partial`` (some character uncertain: the text
is a best guess, kept out of accuracy figures and training) or ``unreadable``. ``split`` is fixed
per source image, so the frames of one vehicle never land on both sides.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from edge_alpr.datasets.manifest import ManifestRow, PlateBox
from edge_alpr.errors import InputError

LABELS_DIR = Path(__file__).with_name("labels")
Status = Literal["ok", "partial", "unreadable"]
STATUSES: tuple[Status, ...] = ("ok", "partial", "unreadable")
LAYOUTS = ("one", "two")
#: Plate background colours as labelled; Indian rules give each one a vehicle category.
BACKGROUNDS = ("white", "yellow", "green", "black", "red", "blue", "other")
_TEXT_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")

BoxKey = tuple[str, tuple[int, ...]]


@dataclass(frozen=True)
class KeptLabel:
    text: str
    status: Status = "ok"
    layout: str | None = None
    background: str | None = None
    ink: str | None = None
    split: str | None = None
    tight_box: tuple[int, int, int, int] | None = None
    plate_box: tuple[int, int, int, int] | None = None
    added: bool = False  # a plate the source did not box
    agreed: bool = False  # partial, but every blind reading gave this text


def box_key(image: str, box) -> BoxKey:
    """An image and a box as whole pixels, so labels match boxes however a manifest spells the numbers."""
    return image, tuple(int(round(float(v))) for v in box)


def kept_labels_path(dataset: str) -> Path:
    return LABELS_DIR / f"{dataset}.jsonl"


def has_kept_labels(dataset: str) -> bool:
    return kept_labels_path(dataset).is_file()


def load_kept(path: Path, dataset: str | None = None) -> dict[BoxKey, KeptLabel]:
    """Read a labels file; a bad line is an error naming the file, the line and what was expected.
    A labelling pass may cover several datasets (a ``set`` key per line): ``dataset`` keeps one."""
    labels: dict[BoxKey, KeptLabel] = {}
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            r = json.loads(line)
            if dataset is not None and r.get("set", dataset) != dataset:
                continue
            key = box_key(r["image"], r["box"])
            text = r["text"]
        except (ValueError, KeyError, TypeError) as e:
            raise InputError(f'{where}: expected {{"image", "box": [x1, y1, x2, y2], "text"}}: {e}') from None
        if len(key[1]) != 4:
            raise InputError(f"{where}: box has {len(key[1])} numbers, expected 4")
        label = KeptLabel(text, r.get("status", "ok"), r.get("layout"), r.get("background"), r.get("ink"),
                          r.get("split"), _inner_box(r.get("tight_box"), key[1], f"{where}: tight_box"),
                          _inner_box(r.get("plate_box"), key[1], f"{where}: plate_box"), r.get("added", False) is True,
                          r.get("agreed", False) is True)
        _check(label, where)
        if key in labels:
            raise InputError(f"{where}: box {list(key[1])} of {key[0]} is labelled twice")
        labels[key] = label
    return labels


def _inner_box(value, box: tuple[int, ...], what: str) -> tuple[int, int, int, int] | None:
    """A box inside a label's loose ``box``; ``what`` names the file, line and field in errors."""
    if value is None:
        return None
    try:
        x1, y1, x2, y2 = (int(round(float(v))) for v in value)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be [x1, y1, x2, y2], got {value!r}") from None
    if not (x1 < x2 and y1 < y2):
        raise InputError(f"{what} {value} is empty (expected x1 < x2 and y1 < y2)")
    if len(box) == 4:
        # loose boxes are drawn by hand and the reader's crop has a margin: allow a little past it
        mx, my = 0.2 * (box[2] - box[0]), 0.2 * (box[3] - box[1])
        if x1 < box[0] - mx or y1 < box[1] - my or x2 > box[2] + mx or y2 > box[3] + my:
            raise InputError(f"{what} {value} lies outside its box {list(box)}")
    return x1, y1, x2, y2


def _check(label: KeptLabel, where: str) -> None:
    if label.status not in STATUSES:
        raise InputError(f"{where}: status must be one of {', '.join(STATUSES)}, got {label.status!r}")
    if not isinstance(label.text, str) or not set(label.text) <= _TEXT_CHARS:
        raise InputError(f"{where}: text {label.text!r} must be A-Z0-9 only (no spaces, dashes or dots)")
    if label.status != "unreadable" and not 2 <= len(label.text) <= 12:
        raise InputError(f"{where}: text {label.text!r} is not 2-12 characters of A-Z0-9")
    if label.layout is not None and label.layout not in LAYOUTS:
        raise InputError(f"{where}: layout must be 'one' or 'two', got {label.layout!r}")
    if label.background is not None and label.background not in BACKGROUNDS:
        raise InputError(f"{where}: background must be one of {', '.join(BACKGROUNDS)}, got {label.background!r}")
    if label.agreed and label.status != "partial":
        raise InputError(f"{where}: 'agreed' marks a partial label, but this one is {label.status!r}")
    if label.split not in (None, "train", "val"):
        raise InputError(f"{where}: split must be 'train' or 'val', got {label.split!r}")


def with_kept(rows: list[ManifestRow], root: Path, labels: dict[BoxKey, KeptLabel],
              agreed: bool = False) -> list[ManifestRow]:
    """``rows`` with the labelled plates given their text (``ok`` labels only, and with ``agreed``
    the ``agreed`` partials too), layout and background, and each labelled image its split. A
    text a manifest already has is kept."""
    added: dict[str, list[tuple[int, ...]]] = {}
    for (image, box), label in labels.items():
        if label.added:
            added.setdefault(image, []).append(box)
    out = []
    for row in rows:
        name = row.image.relative_to(root).as_posix()
        plates, splits = [], set()
        boxed = {box_key(name, p.box)[1] for p in row.plates}
        unboxed = [PlateBox(tuple(float(v) for v in box)) for box in added.get(name, ()) if box not in boxed]
        for p in [*row.plates, *unboxed]:
            label = labels.get(box_key(name, p.box))
            if label is None:
                plates.append(p)
                continue
            splits.add(label.split)
            text = p.text or (label.text if label.status == "ok" or (agreed and label.agreed) else None)
            plates.append(replace(p, text=text, layout=p.layout or label.layout,
                                  background=p.background or label.background,
                                  tight_box=label.tight_box if label.status == "ok" else None,
                                  plate_box=p.plate_box or label.plate_box))
        split = row.split or next((s for s in sorted(splits - {None})), None)
        out.append(replace(row, plates=tuple(plates), split=split))
    return out


def apply_kept(rows: list[ManifestRow], manifest: Path, agreed: bool = False) -> list[ManifestRow]:
    """The kept labels of the dataset a manifest belongs to (its folder's name), if the project
    keeps any; with ``agreed``, the ``agreed`` partials' texts too (see ``with_kept``)."""
    root = Path(manifest).resolve().parent
    if not has_kept_labels(root.name):
        return rows
    return with_kept(rows, root, load_kept(kept_labels_path(root.name)), agreed)
