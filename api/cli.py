"""`backorder` command line: serve, migrate, tokens, schema export, CSV imports (over 400 lines: a function
per command beside the one argparse parser, and the CSV importers with their line-numbered errors)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import dataclasses
import gzip
import io
import logging
import os
import sys
import zlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TextIO

from api import logs
from api.settings import Settings
from domain.errors import DomainError
from domain.model import BackorderPolicy, Channel, Product
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store import queries
from domain.store.db import migrate, open_database
from domain.store.uow import TortoiseUnitOfWork

log = logging.getLogger("backorder")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="backorder", description="Backorder Desk")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the service (applies migrations first)")
    serve.add_argument("--host", default=os.environ.get("BACKORDER_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("BACKORDER_PORT", "8000")))
    serve.add_argument("--demo", action="store_true",
                       help="load demo data into an empty database and print an agent token")
    serve.add_argument("--workers", type=int, default=int(os.environ.get("BACKORDER_WORKERS", "1")),
                       help="server processes (more than one needs PostgreSQL and Redis)")

    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("worker", help="run a notification dispatcher (any number may run)")
    link = sub.add_parser("portal-link", help="print a single-use portal sign-in link for a customer")
    link.add_argument("email")
    link.add_argument("--base-url", help="where the portal is served (default BACKORDER_PUBLIC_URL, "
                      "else http://127.0.0.1:8000)")

    token = sub.add_parser("token", help="API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="create a token; the secret is printed once")
    create.add_argument("--role", choices=["agent", "admin"], required=True)
    create.add_argument("--name", required=True)
    token_sub.add_parser("list", help="list active tokens")
    revoke = token_sub.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("id")

    export = sub.add_parser("export-schema", help="print the GraphQL SDL (or write it with --output)")
    export.add_argument("--output", "-o")

    imp = sub.add_parser("import", help="import CSV data (gzip is fine)")
    imp.add_argument("kind", choices=["locations", "orders", "products", "stock", "purchase-orders"])
    imp.add_argument("file")
    imp.add_argument("--limit", type=int, default=None, help="orders: stop after this many orders")

    dump = sub.add_parser("export", help="stream backorders, order lines or daily KPIs as CSV or JSON lines")
    dump.add_argument("kind", choices=["backorders", "orders", "kpis"])
    dump.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    dump.add_argument("--since", help="ISO date or date-time (UTC): backorders changed, orders placed, KPI days "
                      "from then (KPIs: the last 30 days by default)")
    dump.add_argument("--output", "-o", help="write to this file instead of standard output")

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings.from_env()
    logs.configure(settings.log_format)
    try:
        if args.command == "serve":
            return serve_command(settings, args.host, args.port, args.demo, args.workers)
        if args.command == "portal-link":
            if args.base_url:
                settings = dataclasses.replace(settings, public_url=args.base_url)
            return asyncio.run(portal_link_command(settings, args.email))
        if args.command == "worker":
            return asyncio.run(worker_command(settings))
        if args.command == "migrate":
            asyncio.run(migrate(settings.database_url))
            print("migrations applied")
            return 0
        if args.command == "token":
            return asyncio.run(token_command(settings, args))
        if args.command == "export-schema":
            from api.schema import build_schema

            sdl = str(build_schema()) + "\n"
            if args.output:
                Path(args.output).write_text(sdl)
            else:
                sys.stdout.write(sdl)
            return 0
        if args.command == "import":
            return asyncio.run(import_command(settings, args.kind, args.file, args.limit))
        if args.command == "export":
            from api.export import export_command

            return asyncio.run(export_command(settings, args.kind, args.format, args.since, args.output))
    except DomainError as error:
        print(f"error: {error.message}" + (f" ({error.field})" if error.field else ""), file=sys.stderr)
        return 2
    return 1


def serve_command(settings: Settings, host: str, port: int, demo: bool, workers: int = 1) -> int:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from api.app import create_app, tune_gc
    from api.http_limits import server_config

    if workers < 1:
        raise SystemExit("--workers must be at least 1")
    if workers > 1 and not (settings.redis_url and settings.database_url.startswith(("postgres", "psql"))):
        raise SystemExit("--workers > 1 needs the scale-out profile: BACKORDER_DATABASE_URL=postgres://... (row "
                         "locks across processes) and BACKORDER_REDIS_URL=redis://... (events across processes)")
    asyncio.run(migrate(settings.database_url))
    overrides: dict[str, str] = {}
    if "BACKORDER_PUBLIC_URL" not in os.environ:  # links in messages point at where we listen
        overrides["BACKORDER_PUBLIC_URL"] = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    if demo:
        overrides["BACKORDER_ENV"] = "development"
        if "BACKORDER_COALESCE_SECONDS" not in os.environ:  # a demo shows messages within seconds
            overrides["BACKORDER_COALESCE_SECONDS"] = "10"
    os.environ.update(overrides)  # worker processes build their settings from the environment
    settings = Settings.from_env()
    if demo:
        print(asyncio.run(prepare_demo(settings)), flush=True)
    if workers > 1:
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # /metrics adds up every server process's values
            import tempfile

            os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="backorder-metrics-")
        config = server_config("api.app:app_from_env", settings, factory=True, workers=workers, host=host,
                               port=port, log_level="info", log_config=logs.logging_config(settings.log_format))
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        tune_gc()
        uvicorn.Server(server_config(create_app(settings), settings, host=host, port=port, log_level="info",
                                     log_config=logs.logging_config(settings.log_format))).run()
    return 0


async def worker_command(settings: Settings) -> int:
    import dataclasses
    import signal

    from api.app import SHUTDOWN_SECONDS, make_bus, make_desk, refresh_etas_forever, take_substitutes_on_arrival
    from notifications.outbound_webhooks import WebhookDispatcher
    from notifications.service import Notifications

    notify = Notifications(dataclasses.replace(settings.notifications, public_url=settings.public_url))
    webhooks = WebhookDispatcher(settings.webhooks)
    bus = make_bus(settings.redis_url, settings.redis_channel)  # with Redis, events wake this worker at once
    desk = make_desk(settings, bus, notify)  # for the ETA refresh: its changes are told like any other
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async def wake() -> None:
        with bus.subscribe() as stream:
            async for _ in stream:
                notify.dispatcher.wake()
                webhooks.wake()

    async with open_database(settings.database_url):
        await bus.start()
        waker = asyncio.create_task(wake())
        refresher = asyncio.create_task(refresh_etas_forever(desk, stop, settings.eta_refresh_seconds))
        substituting = asyncio.create_task(take_substitutes_on_arrival(desk, bus, stop))
        delivering = asyncio.create_task(webhooks.run_forever(stop))
        log.info("notification worker started%s", " (woken through Redis)" if settings.redis_url else "")
        try:
            await notify.dispatcher.run_forever(stop)
        finally:
            waker.cancel()
            stop.set()
            await asyncio.gather(refresher, substituting, delivering, return_exceptions=True)
            await desk.close(wait_seconds=SHUTDOWN_SECONDS)  # its background folds, before the database closes
            await bus.stop()
    return 0


async def portal_link_command(settings: Settings, email: str) -> int:
    from datetime import UTC, datetime

    from api.portal import create_portal_link
    from domain.model import check_email
    from domain.store import queries as q

    email = check_email(email)
    async with open_database(settings.database_url):
        if email not in await q.customers_by_email([email]):
            print(f"no customer with email {email}", file=sys.stderr)
            return 1
        url, expires_at = await create_portal_link(settings, email, None, "command line", datetime.now(UTC))
    print(f"{url}\n(works once, until {expires_at:%Y-%m-%d %H:%M} UTC)")
    return 0


async def prepare_demo(settings: Settings) -> str:
    """Load the demo into an empty database, or keep what a previous run left; either way say which, and
    show the demo agent token. The token is minted once and kept (mode 0600) in a file beside the database:
    a restarted demo shows the same token, so GraphiQL tabs and scripts that hold it keep working."""
    from api.demo import DEMO_CUSTOMERS, TOUR_SKU, is_empty, load_demo
    from domain.store.tokens import create_token, verify_token

    token_file = demo_token_file(settings.database_url)
    async with open_database(settings.database_url, apply_migrations=False):
        loaded = await is_empty()
        if loaded:
            async with _closed_after(_desk(settings)) as desk:
                await load_demo(desk)
        secret = _read_secret(token_file)
        kept_token = secret is not None and await verify_token(secret) is not None
        if not kept_token:  # first run, a fresh database, or the token was revoked
            _, secret = await create_token("demo agent", "agent")
            _write_secret(token_file, secret)
    base = "" if settings.public_url == Settings.public_url else f" --base-url {settings.public_url}"
    where = _database_name(settings.database_url)
    data = (f"Demo data loaded into {where}." if loaded else
            f"Kept the data already in {where} (nothing loaded; delete it for a fresh demo).")
    token_note = "kept from the last run" if kept_token else "new"
    return (
        f"\n  {data} GraphiQL: {settings.public_url}/graphql\n"
        f"  Agent token ({token_note}; stored in {token_file}):\n"
        f"    add the header  Authorization: Bearer {secret}\n"
        f"  Agent console: {settings.public_url}/agent  (sign in with the token)\n"
        f"  Tour product: {TOUR_SKU}; demo customers: {', '.join(DEMO_CUSTOMERS)}\n"
        f"  Portal: {settings.public_url}/  (sign-in link: {backorder_command()} portal-link "
        f"{DEMO_CUSTOMERS[0]}{base})\n"
    )


def demo_token_file(database_url: str) -> Path:
    """Beside a SQLite file (deleting the demo's files together starts afresh); in the working directory
    for a server database."""
    if database_url.startswith("sqlite://") and database_url != "sqlite://:memory:":
        return Path(database_url.removeprefix("sqlite://") + ".demo-token")
    return Path(".backorder-demo-token")


def _database_name(database_url: str) -> str:
    if database_url.startswith("sqlite://"):
        return database_url.removeprefix("sqlite://")
    from api.app import _redact

    return _redact(database_url)


def _read_secret(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def _write_secret(path: Path, secret: str) -> None:
    """Only the owner may read it: the file holds a working agent token."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")


def backorder_command() -> str:
    """How the user runs this command from where they are: `backorder` when it is on PATH, else its path
    (scripts/demo.sh runs .venv/bin/backorder, which a fresh shell does not find)."""
    import shutil

    program = Path(sys.argv[0])
    if program.name != "backorder":
        return "backorder" if shutil.which("backorder") else ".venv/bin/backorder"
    found = shutil.which("backorder")
    if found and Path(found).resolve() == program.resolve():
        return "backorder"
    try:
        return str(program.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(program.resolve())


@contextlib.asynccontextmanager
async def _closed_after(desk: BackorderDesk) -> AsyncIterator[BackorderDesk]:
    """`desk`, closed on the way out while the database is still open: the ranges its receipts recorded are folded
    before the command ends (a fold outliving the database failed on a closed connection; one cut short by Ctrl-C
    is left pending for `serve`'s or the worker's round)."""
    try:
        yield desk
    finally:
        await desk.close()


def _desk(settings: Settings) -> BackorderDesk:
    queries.queues_ranked_by(settings.policy)  # the readers explain a place as this policy ranks queues
    return BackorderDesk(lambda: TortoiseUnitOfWork(policy=settings.policy,
                                                    default_lead_time_days=settings.default_lead_time_days,
                                                    eta_learning=settings.eta_learning))


async def token_command(settings: Settings, args: argparse.Namespace) -> int:
    from domain.store.tokens import create_token, list_tokens, revoke_token

    async with open_database(settings.database_url):
        if args.token_command == "create":
            info, secret = await create_token(args.name, args.role)
            print(f"token {info.id} ({info.role}, {info.name}) created. Shown once; keep it safe:")
            print(secret)
            return 0
        if args.token_command == "list":
            for info in await list_tokens():
                print(f"{info.id}\t{info.role}\t{info.name}")
            return 0
        if await revoke_token(args.id):
            await _announce_revocation(settings, args.id)
            print(f"token {args.id} revoked")
            return 0
        print(f"no active token {args.id}", file=sys.stderr)
        return 1


async def _announce_revocation(settings: Settings, token_id: str) -> None:
    """With Redis, every serving process ends the token's live updates (and its console sessions') at once, as
    revokeApiToken does; without it each notices at its next re-read of the token (up to 30 s)."""
    if not settings.redis_url:
        return
    from datetime import UTC, datetime

    from api.context import PortalSession
    from domain.store.redis_bus import RedisBus

    bus = RedisBus(settings.redis_url, channel=settings.redis_channel)
    try:
        await bus.publish([PortalSession.end_api_token(token_id, datetime.now(UTC))])
    finally:
        await bus.stop()


# -- imports ----------------------------------------------------------------------------------
def _open_text(path: str) -> TextIO:
    # utf-8-sig: spreadsheets save "CSV UTF-8" with a byte order mark, which would otherwise stick to the first
    # column's name (the file was refused for missing that column)
    if path.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


class Progress:
    """A plain progress bar on stderr (no dependency); quiet when stderr is not a terminal."""

    def __init__(self, total: int, label: str, stream: TextIO = sys.stderr) -> None:
        self.total, self.label, self.stream, self.done = max(1, total), label, stream, 0
        self.tty = stream.isatty()

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self.tty and (self.done % 25 == 0 or self.done >= self.total):
            width = 30
            filled = int(width * self.done / self.total)
            self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}")
            self.stream.flush()

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")


class BadImportFile(SystemExit):
    """A file that cannot be imported: said with its line number before anything is written."""


def _rows(path: str, required: Sequence[str]) -> list[dict[str, str]]:
    try:
        with _open_text(path) as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise BadImportFile(f"{path}: missing column(s) {', '.join(missing)} (found: "
                                   f"{', '.join(reader.fieldnames or []) or 'none'})")
            return list(reader)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, csv.Error) as exc:  # EOFError: a gzip cut short
        raise BadImportFile(f"{path}: cannot read: {exc}") from exc


def _decimal(value: str, line: int, column: str = "price") -> Decimal:
    try:
        return Decimal(value.strip())
    except InvalidOperation as exc:
        raise BadImportFile(f"line {line}: {column} {value!r} is not a number") from exc


def _int(value: str | None, line: int, column: str) -> int:
    try:
        return int((value or "").strip())
    except ValueError as exc:
        raise BadImportFile(f"line {line}: {column} {value!r} is not a whole number") from exc


def group_invoices(rows: list[dict[str, str]]) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """Online-retail rows (InvoiceNo, StockCode, ...) grouped into orders; returns and fees dropped."""
    invoices: OrderedDict[str, list[dict[str, str]]] = OrderedDict()
    for n, row in enumerate(rows, start=2):
        invoice = (row.get("InvoiceNo") or "").strip()
        if not invoice or invoice.startswith("C") or _int(row.get("Quantity") or "0", n, "Quantity") <= 0:
            continue  # cancellations and returns are not orders
        if (row.get("StockCode") or "").strip().upper() in ("POST", "DOT", "M", "BANK CHARGES", "AMAZONFEE", "D",
                                                             "CRUK", ""):
            continue
        invoices.setdefault(invoice, []).append(row)
    yield from invoices.items()


def _product_inputs(rows: list[dict[str, str]], existing: dict[str, Product]) -> list[ProductInput]:
    """Every row checked before anything is written. Columns a file leaves out keep what the product has
    (an import of names and prices must not wipe its substitutes, supplier, cap, release date or allocation
    policy)."""
    inputs = []
    for n, row in enumerate(rows, start=2):
        sku = (row.get("sku") or "").strip().upper()
        if not sku:
            raise BadImportFile(f"line {n}: no sku")
        before = existing.get(sku)
        policy_text = (row.get("backorder_policy") or "").strip().upper()
        try:
            policy = BackorderPolicy(policy_text) if policy_text else (
                before.backorder_policy if before else BackorderPolicy.ALLOW)
        except ValueError as exc:
            raise BadImportFile(f"line {n}: backorder_policy {policy_text!r} is not one of "
                               f"{', '.join(p.value for p in BackorderPolicy)}") from exc
        lead = row.get("lead_time_days")
        inputs.append(ProductInput(
            sku=sku, name=(row.get("name") or "").strip() or (before.name if before else ""),
            price=_decimal(row["price"], n),
            currency=(row.get("currency") or "").strip().upper() or (before.price.currency if before else "EUR"),
            backorder_policy=policy,
            backorder_limit=before.backorder_limit if before else None,
            release_date=before.release_date if before else None,
            substitutes=tuple(before.substitutes) if before else (),
            supplier_id=before.supplier_id if before else None,
            lead_time_days=_int(lead, n, "lead_time_days") if (lead or "").strip() else (
                before.lead_time_days if before else None),
            **({"allocation_policy": before.allocation_policy, "fair_share_minimum": before.fair_share_minimum,
                "customer_cap_per_receipt": before.customer_cap_per_receipt} if before else {})))
    return inputs


async def import_command(settings: Settings, kind: str, path: str, limit: int | None) -> int:
    from domain.store import queries as q

    if kind == "purchase-orders":
        return await _import_purchase_orders(settings, path)
    required = {"products": ("sku", "name", "price"), "stock": ("sku", "quantity"),
                "orders": ("InvoiceNo", "StockCode", "Quantity"), "locations": ("code",)}[kind]
    rows = _rows(path, required)
    async with open_database(settings.database_url), _closed_after(_desk(settings)) as desk:
        if kind == "products":
            existing = await q.products_by_sku([(r.get("sku") or "").strip().upper() for r in rows])
            inputs = _product_inputs(rows, existing)
            progress = Progress(len(inputs), "products")
            failed = 0
            for n, product in enumerate(inputs, start=2):
                try:
                    await desk.upsert_product(product)
                except DomainError as error:
                    failed += 1
                    print(f"line {n}: {product.sku} not imported: {error.message}", file=sys.stderr)
                progress.advance()
            progress.finish()
            print(f"{len(inputs) - failed} products imported" + (f", {failed} refused" if failed else ""))
            return 1 if failed else 0
        if kind == "locations":  # stock is received only at locations the shop has set up
            failed = 0
            set_up: dict[str, int] = {}  # code -> rows that named it: a repeated code is one location, renamed
            for n, row in enumerate(rows, start=2):
                try:
                    location = await desk.upsert_location(row.get("code") or "", row.get("name"))
                except DomainError as error:
                    failed += 1
                    print(f"line {n}: location not set up: {error.message}", file=sys.stderr)
                else:
                    set_up[location.code] = set_up.get(location.code, 0) + 1
            repeated = sum(set_up.values()) - len(set_up)
            print(f"{len(set_up)} locations set up"
                  + (f" ({repeated} {'row' if repeated == 1 else 'rows'} repeated a code: the last row's name holds)"
                     if repeated else "")
                  + (f", {failed} refused" if failed else ""))
            return 1 if failed else 0
        if kind == "stock":
            receipts = [((r.get("sku") or "").strip().upper(), _int(r.get("quantity"), n, "quantity"),
                         (r.get("location") or "").strip() or "MAIN") for n, r in enumerate(rows, start=2)]
            progress = Progress(len(receipts), "stock")
            failed = 0
            for n, (sku, quantity, location) in enumerate(receipts, start=2):
                try:
                    await desk.receive_stock(sku, quantity, location, cause=f"imported from {Path(path).name}")
                except DomainError as error:
                    failed += 1
                    print(f"line {n}: {sku} not received: {error.message}", file=sys.stderr)
                progress.advance()
            progress.finish()
            print(f"{len(receipts) - failed} stock receipts imported" + (f", {failed} refused" if failed else ""))
            return 1 if failed else 0
        return await _import_orders(desk, rows, limit, path)


async def _import_purchase_orders(settings: Settings, path: str) -> int:
    from api.purchase_import import COLUMNS, BadPurchaseOrderRow, error_line, historical_lines

    try:
        lines = historical_lines(_rows(path, COLUMNS))
    except BadPurchaseOrderRow as error:
        raise BadImportFile(f"{path}: {error}; nothing imported") from error
    async with open_database(settings.database_url):
        try:
            async with _closed_after(_desk(settings)) as desk:
                done = await desk.import_purchase_orders(lines)
        except DomainError as error:
            raise BadImportFile(f"{path}: {error_line(error)}; nothing imported") from error
    print(f"{done.purchase_orders} purchase orders imported: {done.lines_received} lines received, "
          f"{done.lines_open} still open")
    return 0


async def _import_orders(desk: BackorderDesk, rows: list[dict[str, str]], limit: int | None, path: str) -> int:
    """Orders in the online-retail format; unknown SKUs become products (ALLOW) on the way."""
    from domain.store import queries as q

    invoices = list(group_invoices(rows))[: limit or None]
    wanted = {r["StockCode"].strip().upper() for _, lines in invoices for r in lines}
    known = set((await q.products_by_sku(list(wanted))).keys())
    progress = Progress(len(invoices), "orders")
    placed = backordered = skipped = 0
    for invoice, lines in invoices:
        for row in lines:
            sku = row["StockCode"].strip().upper()
            if sku not in known:
                await desk.upsert_product(ProductInput(
                    sku=sku, name=(row.get("Description") or sku).strip().capitalize() or sku,
                    price=abs(_decimal(row.get("UnitPrice") or "0", 0, "UnitPrice")), currency="GBP"))
                known.add(sku)
        customer = (lines[0].get("CustomerID") or "").strip().split(".")[0] or f"guest-{invoice}"
        try:
            order = await desk.place_order(
                CustomerDetails(f"customer-{customer}@example.com".lower()), Channel.ONLINE,
                [LineRequest(r["StockCode"].strip().upper(), int(r["Quantity"])) for r in lines],
                idempotency_key=f"import:{Path(path).name}:{invoice}")
        except DomainError as error:
            skipped += 1
            print(f"\ninvoice {invoice} skipped: {error.message}", file=sys.stderr)
            progress.advance()
            continue
        placed += 1
        backordered += sum(1 for li in order.lines if li.backorder_id)
        progress.advance()
    progress.finish()
    print(f"{placed} orders imported, {backordered} lines backordered" + (f", {skipped} skipped" if skipped else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
