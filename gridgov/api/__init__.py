"""The JSON API under /api/v1; each resource is its own blueprint module (stats.py, …)."""
