"""The smsgw command: serve, migrate, manage admins."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from app.settings import get_settings

if TYPE_CHECKING:
    from app.runtime import Runtime
    from app.security.caller import Caller

T = TypeVar("T")

cli = typer.Typer(help="smsgw: async SMS gateway service", no_args_is_help=True)
admin_cli = typer.Typer(help="Manage admins", no_args_is_help=True)
db_cli = typer.Typer(help="Manage the database schema", no_args_is_help=True)
apikey_cli = typer.Typer(help="Manage API keys for services", no_args_is_help=True)
keys_cli = typer.Typer(help="Manage the encryption and signing keys", no_args_is_help=True)
cli.add_typer(admin_cli, name="admin")
cli.add_typer(db_cli, name="db")
cli.add_typer(apikey_cli, name="apikey")
cli.add_typer(keys_cli, name="keys")


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
    logging = log_config(settings.log_level, settings.log_format)
    if workers > 1:
        from app.observability import multiprocess

        # Before anything imports prometheus_client: the workers count into shared files.
        multiprocess.prepare(settings.metrics_dir or settings.data_dir / "metrics")
        from app import workers as worker_processes

        raise typer.Exit(worker_processes.serve(host, port, workers, logging))
    from app.workers import KEEP_ALIVE_SECONDS

    uvicorn.run(
        "app.asgi:app",
        host=host,
        port=port,
        log_config=logging,
        proxy_headers=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema to the newest revision."""
    from app.migrations import upgrade_sync
    from app.security.keys import private_sqlite

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    private_sqlite(settings.effective_database_url)
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


@admin_cli.command("delete")
def admin_delete(name: str) -> None:
    """Delete an admin; the tokens it holds stop working."""
    from app.services import admins

    asyncio.run(_with_runtime(lambda rt: admins.delete(rt, name, _cli_caller())))
    typer.echo(f"admin {name!r} deleted")


@apikey_cli.command("add")
def apikey_add(
    name: str,
    action: Annotated[
        list[str], typer.Option("--action", help="An action the key may do (repeatable)")
    ],
) -> None:
    """Create an API key; the key is printed once, alone on the last line."""
    from pydantic import ValidationError

    from app.schemas.apikey import ApiKeyIn
    from app.services import apikeys

    try:
        form = ApiKeyIn(name=name, actions=action)
    except ValidationError as exc:
        fields = ", ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        typer.echo(f"invalid: {fields}", err=True)
        raise typer.Exit(2) from None
    created = asyncio.run(_with_runtime(lambda rt: apikeys.create(rt, form, _cli_caller())))
    typer.echo(f"API key {created.name!r} for {', '.join(created.actions)}; shown once:")
    typer.echo(created.key)


@apikey_cli.command("list")
def apikey_list() -> None:
    """List API keys (never the keys themselves)."""
    from app.services import apikeys

    for key in asyncio.run(_with_runtime(apikeys.listing)):
        used = key.last_used_at.isoformat() if key.last_used_at else "never"
        typer.echo(
            f"{key.name}\t{','.join(key.actions)}\tcreated {key.created_at:%Y-%m-%d}"
            f"\tlast used {used}"
        )


@apikey_cli.command("delete")
def apikey_delete(name: str) -> None:
    """Revoke an API key."""
    from app.services import apikeys

    asyncio.run(_with_runtime(lambda rt: apikeys.delete(rt, name, _cli_caller())))
    typer.echo(f"API key {name!r} revoked")


@keys_cli.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every gateway secret and token seed under the newest encryption key."""
    from app.services import key_rotation

    counts = asyncio.run(_with_runtime(lambda rt: key_rotation.rotate(rt, _cli_caller())))
    typer.echo(
        f"re-encrypted {counts.secrets} gateway secret(s) and {counts.seeds} token seed(s) "
        "under the newest key"
    )


@keys_cli.command("generate")
def keys_generate(
    kind: Annotated[str, typer.Argument(help="encryption or jwt")] = "encryption",
) -> None:
    """Print a new key, to put first in SMSGW_ENCRYPTION_KEY (or SMSGW_JWT_KEY)."""
    from app.security import keys

    if kind not in ("encryption", "jwt"):
        typer.echo("kind: give 'encryption' or 'jwt'", err=True)
        raise typer.Exit(2)
    typer.echo(keys.new_encryption_key() if kind == "encryption" else keys.new_jwt_key())


def _cli_caller() -> Caller:
    from app.security.caller import Caller

    return Caller("cli")


async def _with_runtime(work: Callable[[Runtime], Awaitable[T]]) -> T:
    """Run `work` on a migrated database; a refusal is printed, not a traceback."""
    from app.errors import SmsgwError
    from app.main import build_runtime
    from app.migrations import upgrade

    runtime = build_runtime(get_settings())
    try:
        await upgrade(runtime.db.url)
        return await work(runtime)
    except SmsgwError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        await runtime.db.dispose()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
