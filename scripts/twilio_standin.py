"""A local stand-in for Twilio's Messages API, for the demo: prints every SMS the service sends.

    .venv/bin/python scripts/twilio_standin.py --port 8099

then run the service with
    BACKORDER_TWILIO_ACCOUNT_SID=ACdemo BACKORDER_TWILIO_AUTH_TOKEN=demo BACKORDER_TWILIO_FROM=+15005550006 \\
    BACKORDER_TWILIO_API_URL=http://127.0.0.1:8099 scripts/demo.sh

It answers POST /2010-04-01/Accounts/{sid}/Messages.json as Twilio does (201 with a message sid), so the
real twilio client is used end to end; nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import itertools
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

counter = itertools.count(1)


async def create(request: Request) -> JSONResponse:
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
    n = next(counter)
    now = datetime.now(UTC)
    sender = form.get("From") or form.get("MessagingServiceSid")
    print(f"\n--- SMS #{n} {now:%H:%M:%S} to {form.get('To')} from {sender}\n{form.get('Body')}", flush=True)
    return JSONResponse({"sid": f"SM{n:032d}", "account_sid": request.path_params["sid"], "to": form.get("To"),
                         "from": form.get("From"), "body": form.get("Body"), "status": "queued",
                         "num_segments": "1", "date_created": format_datetime(now)}, status_code=201)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8099)
    args = parser.parse_args()
    app = Starlette(routes=[Route("/2010-04-01/Accounts/{sid}/Messages.json", create, methods=["POST"])])
    print(f"Twilio stand-in on http://127.0.0.1:{args.port}", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
