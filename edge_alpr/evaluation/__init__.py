"""Evaluation: metrics (``metrics.py``) and the ``eval`` / ``eval-video`` commands."""
