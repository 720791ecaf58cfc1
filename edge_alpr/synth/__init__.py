"""Synthetic data: rendered Indian plates (``render``) and generated road-scene videos (``scenes``)."""
