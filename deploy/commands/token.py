"""``sensorium token create|list|revoke``: the service's bearer tokens, kept as hashes in a
tokens file (``serve --tokens-file``). A new token is printed once and never stored."""

from __future__ import annotations

from pathlib import Path

import typer

from sensorium.deploy.commands.options import _fail, console

token_app = typer.Typer(help="Bearer tokens with scopes, stored hashed in a tokens file.", no_args_is_help=True)
_FILE = typer.Option(..., "--file", "-f", envvar="SENSORIUM_TOKENS_FILE", help="Tokens file (JSON, or YAML by its .yaml suffix).")


def _records(path: Path) -> list:
    from sensorium.deploy.tokens import read_records

    try:
        return read_records(path)
    except (ValueError, OSError) as exc:
        raise _fail(str(exc)) from None


@token_app.command("create")
def create(name: str = typer.Argument(..., help="Who or what the token is for (A-Z a-z 0-9 . _ -)."),
           scopes: str = typer.Option(..., "--scopes", help="Comma-separated: perceive, agent, streams, admin."),
           file: Path = _FILE) -> None:
    """Add a token: its hash goes into the file, the token is printed once on stdout."""
    from sensorium.deploy.tokens import TokenRecord, hash_token, new_token, parse_scopes, write_records

    records = _records(file)
    if any(r.name == name for r in records):
        raise _fail(f"a token named {name!r} exists in {file}; revoke it first")
    token = new_token()
    try:
        records.append(TokenRecord(name, hash_token(token), parse_scopes(scopes)))
    except ValueError as exc:
        raise _fail(str(exc)) from None
    write_records(file, records)
    console.print(f"token {name!r} ({', '.join(records[-1].scopes)}) added to {file}; it is shown once:")
    typer.echo(token)


@token_app.command("list")
def list_tokens(file: Path = _FILE) -> None:
    """Names and scopes (the hashes stay in the file)."""
    for r in _records(file):
        typer.echo(f"{r.name}\t{','.join(r.scopes)}")


@token_app.command("revoke")
def revoke(name: str = typer.Argument(...), file: Path = _FILE) -> None:
    """Remove a token; a running service stops accepting it at its next request (it rereads the file)."""
    from sensorium.deploy.tokens import write_records

    records = _records(file)
    kept = [r for r in records if r.name != name]
    if len(kept) == len(records):
        raise _fail(f"no token named {name!r} in {file}")
    write_records(file, kept)
    console.print(f"token {name!r} revoked")
