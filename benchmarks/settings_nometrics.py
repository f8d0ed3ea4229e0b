"""Benchmark-only settings: Bouncer without the metrics middleware (``benchmarks/metrics_cost.py``).

Everything else is Bouncer's, so the difference between the two servers in
one run is what timing every request per route costs. Never serve users with it.
"""

from config.settings.base import *  # noqa: F401,F403
from config.settings.base import MIDDLEWARE

MIDDLEWARE = [entry for entry in MIDDLEWARE if entry != "bouncer.core.metrics.MetricsMiddleware"]
