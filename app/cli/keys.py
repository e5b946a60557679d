"""``troly keys``: API keys, on the same data directory as a running service."""

from __future__ import annotations

import click

from app.cli.runtime import Runtime, fail_cleanly, pass_runtime


@click.group()
def keys() -> None:
    """Create, list and revoke API keys (shown once, stored as hashes)."""


@keys.command("create")
@click.option("--role", type=click.Choice(["admin", "maintainer", "reader"]), required=True)
@click.option("--unit", "units", multiple=True, help="A unit a maintainer key may change (repeatable).")
@pass_runtime
def keys_create(runtime: Runtime, role: str, units: tuple[str, ...]) -> None:
    from app.access import Principal
    from app.wiring import open_access

    with fail_cleanly():
        access = open_access(runtime.settings)
        info, key = access.create_key(role, units)
        access.audit(Principal("cli", "admin"), "key.create", None, info.id, {"role": role, "units": list(units)})
    click.echo(f"id   {info.id}\nrole {info.role}" + (f"\nunits {', '.join(info.units)}" if info.units else ""))
    click.secho(f"key  {key}", bold=True)
    click.echo("The key is shown only now; store it safely.", err=True)


@keys.command("list")
@pass_runtime
def keys_list(runtime: Runtime) -> None:
    from app.wiring import open_access

    with fail_cleanly():
        listed = open_access(runtime.settings).list_keys()
    for k in listed:
        state = f"revoked {k.revoked_at}" if k.revoked_at else "active"
        click.echo(f"{k.id}\t{k.role}\t{','.join(k.units) or '-'}\t{k.created_at}\t{state}")


@keys.command("revoke")
@click.argument("key_id")
@pass_runtime
def keys_revoke(runtime: Runtime, key_id: str) -> None:
    from app.access import Principal
    from app.wiring import open_access

    with fail_cleanly():
        access = open_access(runtime.settings)
        access.revoke(key_id)
        access.audit(Principal("cli", "admin"), "key.revoke", None, key_id)
    click.echo(f"revoked {key_id}")
