"""Errors the user can act on. The CLI prints their message (never a traceback) and exits with
``exit_code``; the codes are documented in the README."""
from __future__ import annotations


class EdgeAlprError(Exception):
    """Base class: a problem with input the user controls."""

    exit_code = 1


class ConfigError(EdgeAlprError):
    """The YAML config is unreadable, malformed or invalid."""

    exit_code = 2


class ModelError(EdgeAlprError):
    """A model file is missing or is not a usable TFLite model."""

    exit_code = 3


class SourceError(EdgeAlprError):
    """A frame source cannot be opened (missing file, not a video, no camera)."""

    exit_code = 4


class InputError(EdgeAlprError):
    """An image or dataset given on the command line is missing or unreadable."""

    exit_code = 5
