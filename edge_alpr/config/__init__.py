"""The daemon's YAML config as pydantic models. ``load_config(path)`` is the one way in."""
from edge_alpr.config.app import AppConfig
from edge_alpr.config.loader import load_config, redacted_dump
from edge_alpr.config.outputs import OutputsConfig
from edge_alpr.config.pipeline import DetectorConfig, ReaderConfig, default_model_dir
from edge_alpr.config.source import SourceConfig
from edge_alpr.config.tracking import TrackerConfig, VotingConfig
from edge_alpr.config.watchlists import GateConfig, WatchlistConfig, WatchlistsConfig

__all__ = [
    "AppConfig",
    "DetectorConfig",
    "GateConfig",
    "OutputsConfig",
    "ReaderConfig",
    "SourceConfig",
    "TrackerConfig",
    "VotingConfig",
    "WatchlistConfig",
    "WatchlistsConfig",
    "default_model_dir",
    "load_config",
    "redacted_dump",
]
