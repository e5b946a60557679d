"""``troly migrate --to-database-url URL --to-milvus URI``: the data directory's knowledge base into a
cluster (app/service/cluster_migration.py; docs/deploy.md, *Moving an embedded data directory into a
cluster*)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from app.cli.runtime import Runtime, fail_cleanly, pass_runtime

if TYPE_CHECKING:
    from tqdm import tqdm

    from app.service.cluster_migration import MigrationReport, Progress


@click.command()
@click.option(
    "--to-database-url",
    required=True,
    metavar="URL",
    help="The PostgreSQL database to fill: postgresql://user@host:5432/database (a password may come from "
    "PGPASSWORD or ~/.pgpass instead of the URL). It must hold none of troly's rows.",
)
@click.option(
    "--to-milvus",
    required=True,
    metavar="URI",
    help="The Milvus server, e.g. http://milvus:19530; the collection is TROLY_MILVUS_COLLECTION's, which "
    "must be new or hold no passage.",
)
@click.option("--milvus-token", metavar="TOKEN", help="Milvus's token, if it needs one [env TROLY_MILVUS_TOKEN].")
@pass_runtime
def migrate(runtime: Runtime, to_database_url: str, to_milvus: str, milvus_token: str | None) -> None:
    """Copy the data directory's knowledge base into a cluster: every table into PostgreSQL, in one
    transaction, then its passages into Milvus from the stored vectors. Nothing is embedded again and no
    model is loaded; the data directory is only read (brought to this release's schema first, as any
    start does) and stays as it was.

    Refused, with nothing written: a data directory a running troly holds, a SQLite target, a database that
    already holds troly's rows, a Milvus collection that already holds passages. Each table's rows and each
    unit's passages in Milvus are checked against the source at the end.
    """
    from app.service.cluster_migration import ClusterTarget, migrate_to_cluster
    from app.wiring import open_database

    settings = runtime.settings
    token = milvus_token or (settings.milvus_token.get_secret_value() if settings.milvus_token else None)
    shown = _Shown()
    try:
        with fail_cleanly():
            report = migrate_to_cluster(
                settings, ClusterTarget(to_database_url, to_milvus, token), open_database, shown.progress()
            )
    finally:
        shown.close()
    _print(report)


class _Shown:
    """The steps as lines on stderr, the rows copied as a progress bar there (on a terminal)."""

    def __init__(self) -> None:
        self._bar: tqdm[None] | None = None

    def progress(self) -> Progress:
        from app.service.cluster_migration import Progress

        return Progress(step=self.step, total=self.total, rows=self.rows)

    def step(self, text: str) -> None:
        self.close()
        click.echo(text, err=True)

    def total(self, rows: int) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=rows, desc="copying rows", unit="row", disable=None)

    def rows(self, rows: int) -> None:
        if self._bar is not None:
            self._bar.update(rows)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _print(report: MigrationReport) -> None:
    rows = sum(report.tables.values())
    click.echo(
        f"migrated {report.source} into {report.database} and the Milvus collection {report.collection} at "
        f"{report.milvus_uri}: {report.units} units, {report.documents} documents, {report.passages} passages, "
        f"{len(report.tables)} tables ({rows} rows) in {report.seconds:.1f} s; nothing was embedded again"
    )
    click.echo("checked: every table's rows and every unit's passages in Milvus match the source")
    click.echo(
        "next: start the replicas with TROLY_DATABASE_URL (this database), TROLY_SEARCH_BACKEND=milvus and "
        f"TROLY_MILVUS_URI={report.milvus_uri} (docs/deploy.md)"
    )
