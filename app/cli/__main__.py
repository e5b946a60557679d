"""``python -m app.cli``: the same as the ``troly`` script (the benchmark and the tests start it so)."""

from app.cli import main

main()
