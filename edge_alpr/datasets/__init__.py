"""Datasets in the project's manifest format, and importers from other annotation formats."""
from pathlib import Path

#: The shared datasets folder beside the project root (``../shared/datasets``); a fresh clone has none.
DEFAULT_DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
