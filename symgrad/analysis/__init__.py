"""Analyses that reports and the command line show: per-layer gradient sizes
(:mod:`.vanishing`) and the experiments a report runs (:mod:`.experiments`)."""

from __future__ import annotations
