"""edge-alpr: number-plate recognition for roadside Raspberry Pi units."""

__version__ = "0.1.0"
