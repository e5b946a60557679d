"""``troly backup DEST`` and ``troly restore SRC``: the data directory, while the service runs
(app/service/backup.py; docs/operations-backups.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from app.cli.runtime import Runtime, fail_cleanly, pass_runtime

if TYPE_CHECKING:
    from app.service.backup_manifest import BackupManifest


@click.command()
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@pass_runtime
def backup(runtime: Runtime, dest: Path) -> None:
    """Back up the data directory into DEST (new or empty), safely while the service runs."""
    from app.service.backup import take_backup

    with fail_cleanly():
        manifest = take_backup(runtime.settings, dest)
    click.echo(f"backed up {runtime.settings.data_dir} into {dest}: {_summary(manifest)}")
    _snapshots(manifest)


@click.command()
@click.argument("src", type=click.Path(file_okay=False, path_type=Path))
@pass_runtime
def restore(runtime: Runtime, src: Path) -> None:
    """Restore the backup in SRC into the data directory, which must be empty or absent."""
    from app import __version__
    from app.service.backup import restore_backup

    with fail_cleanly():
        manifest = restore_backup(src, runtime.settings)
    click.echo(f"restored {src} (taken {manifest.created_at}) into {runtime.settings.data_dir}: {_summary(manifest)}")
    _snapshots(manifest)
    if manifest.troly_version != __version__:
        click.echo(f"note: the backup was taken by troly {manifest.troly_version}, this is {__version__}", err=True)


def _summary(manifest: BackupManifest) -> str:
    return (
        f"{manifest.count('sqlite')} databases, {len(manifest.units)} units, "
        f"{manifest.count('model')} tuned model files, {manifest.size / 1e6:.1f} MB; embedder {manifest.embedder}"
    )


def _snapshots(manifest: BackupManifest) -> None:
    rebuilt = sorted(unit for unit, state in manifest.units.items() if not state.snapshot)
    if rebuilt:
        click.echo(
            f"index snapshots left out (written since the service's last snapshot): {', '.join(rebuilt)}; "
            "the first start after a restore rebuilds them from the store"
        )
