"""Datasets in the project's manifest format, and importers from other annotation formats."""
