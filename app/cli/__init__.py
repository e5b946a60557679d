"""The ``troly`` command line: the root group (root.py) and its commands, one module per thing they work on.

Every command is a thin call into the core; heavy imports (the model, FAISS, uvicorn) wait inside the
commands, so that ``troly --help`` answers at once.
"""

from __future__ import annotations

from app.bench.cli import bench
from app.cli.ask import ask
from app.cli.backup import backup, restore
from app.cli.documents import ingest
from app.cli.ensemble_reader import ensemble_reader
from app.cli.evaluation import eval_group
from app.cli.fusion_grid import fusion_grid
from app.cli.keys import keys
from app.cli.migrate import migrate
from app.cli.root import main
from app.cli.serve import serve
from app.cli.train_reader import train_reader
from app.cli.tune import tune
from app.cli.units import units

_COMMANDS = (
    serve,
    ingest,
    ask,
    units,
    eval_group,
    tune,
    train_reader,
    ensemble_reader,
    fusion_grid,
    keys,
    backup,
    restore,
    migrate,
    bench,
)
for _command in _COMMANDS:
    main.add_command(_command)

__all__ = ["main"]
