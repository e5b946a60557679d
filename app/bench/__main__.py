"""``python -m app.bench`` is ``troly bench``."""

from app.bench.cli import bench

bench()
