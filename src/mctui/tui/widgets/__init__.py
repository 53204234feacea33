"""Widgets: they render engine state and nothing else."""
