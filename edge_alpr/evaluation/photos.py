"""The real validation photos the evaluation videos are made of: which ones may be used, a
fair draw across datasets, and loading them."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge_alpr.datasets.manifest import normalise_plate_text
from edge_alpr.errors import InputError
from edge_alpr.evaluation.buckets import Layout, plate_layout
from edge_alpr.synth.vehicles import Box, VehicleKind

#: Datasets whose validation photos have plate texts (openlpr has none): their manifests' own, or
#: the texts this project read by eye (``datasets.kept``) for the two-wheeler and Odisha sets, whose
#: two-line plates are the ones a vehicle pass most needs voting for.
REAL_SETS = ("openalpr_us", "openalpr_br", "in_olx_scenes", "in_twowheelers", "in_odisha_traffic")
#: The vehicle a set's photos show where it is one kind (the truth records it; scoring ignores it).
_KINDS: dict[str, VehicleKind] = {"in_twowheelers": "motorcycle"}


@dataclass(frozen=True)
class PhotoRef:
    """A validation photo with one plate of known text, not yet loaded."""

    image: Path
    size: tuple[int, int]  # width, height as the manifest gives them
    box: Box
    text: str
    layout: Layout
    dataset: str
    kind: VehicleKind = "car"


@dataclass(frozen=True)
class PlatePhoto:
    """A loaded photo and its plate."""

    image: np.ndarray  # BGR uint8
    box: Box
    text: str
    layout: Layout
    kind: VehicleKind = "car"


def validation_photos(datasets_dir: Path, sets: Sequence[str] = REAL_SETS) -> list[PhotoRef]:
    """The photos of ``sets`` in the detector's validation split that show exactly one plate,
    with its text, ``ok`` where this project labelled it. (A second plate, even an unreadable one,
    would make a correct reading look like a false event.)"""
    from edge_alpr.training.detector_data import detector_rows, is_val, reader_val_texts  # no torch needed

    held_out = reader_val_texts(datasets_dir)
    refs = []
    for name in sets:
        manifest = datasets_dir / name / "manifest.jsonl"
        if not manifest.is_file():
            raise InputError(f"{manifest}: not found (expected the shared datasets layout DIR/{name}/manifest.jsonl)")
        for row in detector_rows(datasets_dir, name):
            if len(row.plates) != 1 or not row.plates[0].text or not is_val(row, name, held_out):
                continue
            plate = row.plates[0]
            # The plate's own outline, not a loose box round the rider: the clip sizes the plate by it.
            refs.append(PhotoRef(row.image, (row.width, row.height), plate.outline,
                                 normalise_plate_text(plate.text), plate_layout(plate), name,
                                 _KINDS.get(name, "car")))
    return refs


def choose_photos(refs: Sequence[PhotoRef], n: int, rng: np.random.Generator) -> list[PhotoRef]:
    """``n`` photos taken in turn from each dataset (shuffled), so a large set does not crowd
    out a small one. Fewer when there are fewer; a plate text appears at most once, because the
    daemon reports a plate seen twice within its duplicate window only once."""
    by_set: dict[str, list[PhotoRef]] = defaultdict(list)
    for ref in refs:
        by_set[ref.dataset].append(ref)
    queues = []
    for name in sorted(by_set):
        group = by_set[name]
        queues.append([group[i] for i in rng.permutation(len(group))])
    chosen: list[PhotoRef] = []
    texts: set[str] = set()
    while len(chosen) < n and any(queues):
        for queue in queues:
            while queue and len(chosen) < n:
                ref = queue.pop(0)
                if ref.text not in texts:
                    chosen.append(ref)
                    texts.add(ref.text)
                    break
    return chosen


def load_photo(ref: PhotoRef) -> PlatePhoto:
    image = cv2.imread(str(ref.image), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"{ref.image}: missing or not a readable image")
    if (image.shape[1], image.shape[0]) != ref.size:
        raise InputError(f"{ref.image}: is {image.shape[1]}x{image.shape[0]} but its manifest says "
                         f"{ref.size[0]}x{ref.size[1]}, so the plate box would be wrong")
    return PlatePhoto(image, ref.box, ref.text, ref.layout, ref.kind)
