"""The smsgw command: serve, migrate, manage admins."""

from __future__ import annotations

import asyncio
import getpass
from typing import Annotated

import typer

from app.settings import get_settings

cli = typer.Typer(help="smsgw: async SMS gateway service", no_args_is_help=True)
admin_cli = typer.Typer(help="Manage admins", no_args_is_help=True)
db_cli = typer.Typer(help="Manage the database schema", no_args_is_help=True)
cli.add_typer(admin_cli, name="admin")
cli.add_typer(db_cli, name="db")


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
) -> None:
    """Migrate the database, bootstrap the first admin, and serve the API."""
    import uvicorn

    from app.logs import log_config

    settings = get_settings()
    host, port = host or settings.host, port or settings.port
    if workers > 1:
        from app import workers as worker_processes

        raise typer.Exit(
            worker_processes.serve(host, port, workers, log_config(settings.log_level))
        )
    uvicorn.run(
        "app.asgi:app",
        host=host,
        port=port,
        log_config=log_config(settings.log_level),
        proxy_headers=False,
    )


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema to the newest revision."""
    from app.migrations import upgrade_sync

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_sync(settings.effective_database_url)
    typer.echo("database is at the newest revision")


@admin_cli.command("add")
def admin_add(
    name: str,
    password: Annotated[
        str | None, typer.Option(help="Password; prompted for if omitted, '-' generates one")
    ] = None,
) -> None:
    """Add an admin, or set a new password for an existing one."""
    if password is None:
        password = getpass.getpass(f"Password for {name} (empty: generate one): ")
    if password == "-":
        password = ""
    asyncio.run(_admin_add(name, password or None))


async def _admin_add(name: str, password: str | None) -> None:
    from app.main import build_runtime
    from app.migrations import upgrade
    from app.security.caller import Caller
    from app.services import admins

    runtime = build_runtime(get_settings())
    try:
        await upgrade(runtime.db.url)
        used = await admins.add(runtime, name, password, Caller("cli"))
    finally:
        await runtime.db.dispose()
    typer.echo(f"admin {name!r} saved" + ("" if password else f"; password: {used}"))


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
