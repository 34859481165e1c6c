"""The `lims` command: database, users, tokens, audit check, demo and production serving."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from flask_migrate import upgrade
from gunicorn.app.base import BaseApplication

from lims import create_app
from lims.audit.services import ChainBroken, checkpoint, verify_chain
from lims.auth.services import (
    create_api_token,
    create_user,
    get_api_token,
    get_user,
    list_api_tokens,
    reset_password,
    reset_two_factor,
    revoke_api_token,
    set_active,
)
from lims.backup import backup, restore
from lims.certificates.services import archive_certificate, certificates_to_archive
from lims.db import db, grant_app_role, utcnow
from lims.demo import DEMO_LAB_ADDRESS, DEMO_USERS, demo_certificates, seed
from lims.errors import DomainError
from lims.intake.services import create_location
from lims.library.services import get_library_by_name, import_library, list_libraries
from lims.measurements.services import get_instrument
from lims.measurements.watch import process_folder
from lims.search import services as searches
from lims.signing import export_ca, init_keys


def _password(prompt: str) -> str:
    """Read a password from stdin when piped, else prompt twice without echo."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    return click.prompt(prompt, hide_input=True, confirmation_prompt=True)


def _fail(message: str) -> None:
    db.session.rollback()
    raise click.ClickException(message)


def _commit(action):
    """Run one service call and commit; a refusal ends the command with its message."""
    try:
        value = action()
    except DomainError as error:
        _fail(error.message)
    db.session.commit()
    return value


@click.group(cls=FlaskGroup, create_app=lambda: create_app(), add_default_commands=False)
def main():
    """Customs laboratory LIMS."""


@main.group()
def user():
    """Manage user accounts."""


@user.command("create")
@click.argument("username")
@click.option("--role", required=True, help="technician, chemist, reviewer, investigator, admin")
@click.option("--full-name", default="", help="Printed name (defaults to the username).")
@with_appcontext
def user_create(username: str, role: str, full_name: str):
    """Create an account; the password is read from stdin or a prompt."""
    created = _commit(lambda: create_user(None, username, full_name or username, role,
                                          _password("Password")))
    click.echo(f"created {created.username} ({created.role})")


@user.command("disable")
@click.argument("username")
@click.option("--reason", required=True)
@with_appcontext
def user_disable(username: str, reason: str):
    """Disable an account and end its sessions and tokens at once."""
    _commit(lambda: set_active(None, get_user(username), False, reason))
    click.echo(f"disabled {username}")


@user.command("enable")
@click.argument("username")
@click.option("--reason", required=True)
@with_appcontext
def user_enable(username: str, reason: str):
    """Enable a disabled or expired account again (its idle period starts anew)."""
    _commit(lambda: set_active(None, get_user(username), True, reason))
    click.echo(f"enabled {username}")


@user.command("reset-password")
@click.argument("username")
@with_appcontext
def user_reset_password(username: str):
    """Set a new password (from stdin or a prompt) and end every session of the user."""
    _commit(lambda: reset_password(None, get_user(username), _password("New password")))
    click.echo(f"password of {username} reset; their sessions have ended")


@user.command("reset-2fa")
@click.argument("username")
@click.option("--reason", required=True)
@with_appcontext
def user_reset_2fa(username: str, reason: str):
    """Remove a user's authenticator (lost phone); they enrol again after logging in."""
    _commit(lambda: reset_two_factor(None, get_user(username), reason))
    click.echo(f"two-factor sign-in of {username} reset")


@main.group()
def token():
    """Manage API tokens."""


@token.command("create")
@click.argument("username")
@click.option("--label", default="cli", help="What the token is for (shown in the list).")
@click.option("--expires-days", default=90, show_default=True, type=int,
              help="Days until the token stops working (1 to 3650).")
@with_appcontext
def token_create(username: str, label: str, expires_days: int):
    """Print a new API token for a user once; only its hash is stored."""
    value = _commit(lambda: create_api_token(None, get_user(username), label, expires_days))
    click.echo(value)


@token.command("list")
@click.argument("username", required=False)
@with_appcontext
def token_list(username: str | None):
    """List API tokens (of one user): id, user, label, status, expiry, last use."""
    try:
        rows = list_api_tokens(get_user(username) if username else None)
    except DomainError as error:
        _fail(error.message)
    now = utcnow()
    for row in rows:
        used = f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never used"
        click.echo(f"{row.id:>5}  {row.user.username:<16} {row.label:<24} {row.state(now):<8} "
                   f"expires {row.expires_at:%Y-%m-%d %H:%M}  {used}")


@token.command("revoke")
@click.argument("token_id", type=int)
@with_appcontext
def token_revoke(token_id: int):
    """Revoke one API token by its id (see `lims token list`)."""
    _commit(lambda: revoke_api_token(None, get_api_token(token_id)))
    click.echo(f"revoked token {token_id}")


@main.group()
def audit():
    """Check the audit trail, checkpoint it, grant the least-privilege database role."""


def _broken(report) -> None:
    where = f"at entry {report.first_bad_seq}" if report.first_bad_seq else "(custody)"
    click.echo(f"audit chain BROKEN {where}: {report.problem}", err=True)
    sys.exit(1)


@audit.command("verify")
@with_appcontext
def audit_verify():
    """Check chain, journal, checkpoints and custody events; exit 1 naming the first bad entry."""
    report = verify_chain()
    if not report.ok:
        _broken(report)
    click.echo(f"audit chain intact: {report.checked} entries, {report.custody_checked} custody "
               f"events, journal head {report.journal_head}")
    for note in report.notes:
        click.echo(note)


@audit.command("checkpoint")
@click.option("--accept-unjournaled", is_flag=True,
              help="Adopt entries after the journal's head (read them first: a crash between "
                   "commit and journal leaves such entries; so does an intruder).")
@with_appcontext
def audit_checkpoint(accept_unjournaled: bool):
    """Verify the chain, then journal its head and append a signed checkpoint."""
    try:
        written = checkpoint(accept_unjournaled=accept_unjournaled)
    except ChainBroken as error:
        _broken(error.report)
    stamped = ", RFC 3161 time-stamped" if "tst" in written else ""
    click.echo(f"checkpoint: entry {written['seq']} {written['hash']} at {written['at']}{stamped}")


@audit.command("grant-app-role")
@click.argument("role", required=False)
@with_appcontext
def audit_grant_app_role(role: str | None):
    """PostgreSQL: let ROLE (default LIMS_DB_APP_ROLE) use the app, but never rewrite evidence."""
    role = role or current_app.config["LIMS"].db_app_role
    if db.engine.dialect.name != "postgresql":
        _fail("grant-app-role is for PostgreSQL; on SQLite the triggers and the journal apply.")
    try:
        grant_app_role(db.session.connection(), role)
    except ValueError as error:
        _fail(str(error))
    db.session.commit()
    click.echo(f"granted {role}: no UPDATE, DELETE or TRUNCATE on audit_entry, custody_event")


@main.group()
def location():
    """Manage storage locations."""


@location.command("create")
@click.argument("code")
@click.argument("name")
@with_appcontext
def location_create(code: str, name: str):
    """Add a storage location."""
    loc = _commit(lambda: create_location(None, code, name))
    click.echo(f"created location {loc.code}")


@main.group()
def library():
    """Manage reference libraries."""


@library.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", required=True, help="Library name, as printed on certificates.")
@click.option("--version", "version_", required=True, help="Library version.")
@click.option("--adapter", default=None, help="Force a file format (default: detect).")
@click.option("--description", default="", help="Source, licence, coverage.")
@click.option("--user", "username", default=None, help="Account answerable for the import.")
@with_appcontext
def library_import(file: Path, name: str, version_: str, adapter: str | None,
                   description: str, username: str | None):
    """Import a reference library file and build its search index."""
    def progress(done: int, total: int, phase: str) -> None:
        click.echo(f"{phase}: {done}/{total}", err=True)

    try:
        actor = get_user(username) if username else None
        imported = import_library(actor, file.read_bytes(), file.name, name=name,
                                  version=version_, adapter=adapter, description=description,
                                  progress=progress)
    except DomainError as error:
        _fail(error.message)
    db.session.commit()
    click.echo(f"library {imported.id}: {imported.label}, {imported.entry_count} entries, "
               f"sha256 {imported.sha256}")


@library.command("list")
@with_appcontext
def library_list():
    """List the imported libraries."""
    for lib in list_libraries():
        click.echo(f"{lib.id:>4}  {lib.name} {lib.version}  {lib.kind}/{lib.technique}  "
                   f"{lib.entry_count} entries  {'approved' if lib.approved else 'NOT approved'}"
                   f"  {lib.sha256[:12]}")


@main.command("watch")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--instrument", "instrument_name", required=True, help="Instrument name.")
@click.option("--user", "username", required=True, help="Account answerable for the imports.")
@click.option("--once", is_flag=True, help="Process the files present, then exit.")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between passes.")
@with_appcontext
def watch(directory: Path, instrument_name: str, username: str, once: bool, interval: float):
    """Import files dropped by an instrument PC into DIRECTORY (done/ and failed/ beside)."""
    try:
        instrument = get_instrument(instrument_name)
        actor = get_user(username)
    except DomainError as error:
        _fail(error.message)
    prefix = current_app.config["LIMS"].lab_number_prefix
    click.echo(f"watching {directory} for {instrument.name} as {actor.username}")
    while True:
        for outcome in process_folder(directory, instrument, actor, prefix,
                                      settle=0 if once else 2.0):
            click.echo(f"{'done' if outcome.ok else 'FAILED'}  {outcome.filename}: "
                       f"{outcome.message}")
        if once:
            return
        time.sleep(interval)


def _serve(host: str, port: int, workers: int, settings=None) -> None:
    """Run gunicorn in this process; every worker builds its own application."""
    class Server(BaseApplication):
        def load_config(self):
            for key, value in {"bind": f"{host}:{port}", "workers": workers,
                               "worker_class": "gthread", "threads": 4,
                               "accesslog": "-", "control_socket_disable": True}.items():
                if key in self.cfg.settings:
                    self.cfg.set(key, value)

        def load(self):
            return create_app(settings)

    Server().run()


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
def serve(host: str, port: int, workers: int):
    """Serve the application with gunicorn (production)."""
    _serve(host, port, workers)


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--seed-only", is_flag=True, help="Seed the data folder and exit.")
@with_appcontext
def demo(host: str, port: int, seed_only: bool):
    """Create the data folder, migrate, seed demo data, print the logins and serve."""
    # A demo laboratory prints a demo address and QR codes that point at this server.
    settings = dataclasses.replace(
        current_app.config["LIMS"],
        lab_address=current_app.config["LIMS"].lab_address or DEMO_LAB_ADDRESS,
        public_url=current_app.config["LIMS"].public_url or f"http://{host}:{port}")
    current_app.config["LIMS"] = settings
    upgrade()
    created = seed()
    certificates = demo_certificates()
    db.session.commit()  # and end the transaction: SQLite would stay locked while serving
    db.engine.dispose()
    click.echo(f"data folder: {settings.data_dir}")
    click.echo("demo data seeded" if created else "demo data already present")
    click.echo("demo logins (username / password / role):")
    for username, _name, role, password in DEMO_USERS:
        click.echo(f"  {username:<12} {password:<26} {role}")
    for number, lab_number in certificates:
        click.echo(f"certificate {number} issued for {lab_number}: log in as inv and open "
                   f"My cases, or verify it at http://{host}:{port}/verify")
    if seed_only:
        return
    click.echo(f"serving on http://{host}:{port}/  (Ctrl+C to stop)")
    _serve(host, port, 2, settings)


@main.group()
def keys():
    """Manage the laboratory's signing key."""


@keys.command("init")
@click.option("--lab-name", default=None, help="Name in the certificates (default LIMS_LAB_NAME).")
@click.option("--force", is_flag=True,
              help="Replace an existing key (back it up first: it proves who signed).")
@with_appcontext
def keys_init(lab_name: str | None, force: bool):
    """Create a demo root CA and the laboratory's signing key and certificate."""
    settings = current_app.config["LIMS"]
    try:
        info = init_keys(settings, lab_name=lab_name or settings.lab_name, force=force)
    except DomainError as error:
        _fail(error.message)
    click.echo(f"signing key {info.p12_path}: {info.signer_subject}, "
               f"valid until {info.not_after:%Y-%m-%d}, SHA-256 {info.sha256_fingerprint}")
    click.echo(f"CA certificate {info.ca_path}: {info.ca_subject}")


@keys.command("export-ca")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def keys_export_ca(path: Path):
    """Write the CA certificate that verifiers must trust to PATH (PEM)."""
    try:
        export_ca(current_app.config["LIMS"], path)
    except DomainError as error:
        _fail(error.message)
    click.echo(f"wrote {path}")


@main.command("search")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--library", "library_name", required=True, help="Library name.")
@click.option("--version", "library_version", default=None,
              help="Library version (the latest when omitted).")
@click.option("--algorithm", default=None,
              help="hqi, hqi_derivative, euclidean, cosine, nist_identity or nist_reverse "
                   "(default: nist_identity for mass spectra, hqi otherwise).")
@click.option("--top", default=10, show_default=True, type=click.IntRange(1, 100))
@click.option("--adapter", default=None, help="Force a reader instead of detection.")
@click.option("--json", "as_json", is_flag=True, help="Print the hits as JSON.")
@with_appcontext
def search_command(file: Path, library_name: str, library_version: str | None,
                   algorithm: str | None, top: int, adapter: str | None, as_json: bool):
    """Search the first spectrum of an instrument file against a library (nothing stored)."""
    try:
        library_row = get_library_by_name(library_name, library_version)
        chosen = algorithm or searches.default_algorithm(library_row.kind)
        hits = searches.search_file(file.read_bytes(), file.name, library_row,
                                    algorithm=chosen, top=top, adapter=adapter)
    except DomainError as error:
        _fail(error.message)
    rows = [searches.hit_json(hit, library_row) for hit in hits]
    if as_json:
        click.echo(json.dumps({"file": file.name, "library": library_row.name,
                               "library_version": library_row.version,
                               "library_sha256": library_row.sha256, "algorithm": chosen,
                               "hits": rows}, indent=2))
        return
    click.echo(f"{file.name} against {library_row.name} {library_row.version} ({chosen}):")
    for row in rows:
        click.echo(f"{row['rank']:>3}  {row['score']:10.4f}  {row['substance']}"
                   f"{'  CAS ' + row['cas'] if row['cas'] else ''}")


@main.command("backup")
@click.argument("path", type=click.Path(path_type=Path))
@with_appcontext
def backup_command(path: Path):
    """Write a consistent snapshot (database, file store, journal, keys) with a manifest."""
    db.session.remove()  # no transaction of ours may hold SQLite's lock during the snapshot
    try:
        report = backup(current_app.config["LIMS"], path)
    except DomainError as error:
        _fail(error.message)
    click.echo(f"backup {report.path}: {report.database} database, {report.files} files, "
               f"{report.bytes} bytes; MANIFEST.sha256 lists each file's SHA-256")


@main.command("restore")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@with_appcontext
def restore_command(path: Path):
    """Check a backup against its manifest and restore it into an empty data folder."""
    db.session.remove()
    try:
        report = restore(current_app.config["LIMS"], path)
    except DomainError as error:
        _fail(error.message)
    click.echo(f"restored {report.files} files and the {report.database} database into "
               f"{report.path}; run `lims audit verify` to check the trail")


@main.group("certificates")
def certificates_group():
    """Issued certificates."""


@certificates_group.command("archive")
@click.option("--renew", is_flag=True,
              help="Add a new time-stamp to every certificate, archived or not (before the "
                   "last time-stamp's certificate expires, or its algorithm weakens).")
@with_appcontext
def certificates_archive(renew: bool):
    """Add PAdES B-LTA document time-stamps (LIMS_TSA_URL) to issued certificates."""
    done = 0
    for certificate in certificates_to_archive(renew):
        try:
            revision = archive_certificate(None, certificate)
        except DomainError as error:
            _fail(f"{certificate.number}: {error.message} ({done} archived before it)")
        db.session.commit()  # each certificate on its own: a later failure keeps this one
        done += 1
        click.echo(f"{certificate.number}: revision {revision.seq}, time-stamp "
                   f"{revision.timestamped_at:%Y-%m-%d %H:%M:%S} UTC, sha256 {revision.sha256}")
    click.echo(f"{done} certificate(s) archived")
