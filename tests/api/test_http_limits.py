"""No anonymous client can hold the server: bodies past the limit are refused before they are read whole,
slow senders are disconnected, a body that is not a JSON object is a 400 (never a 500), and forwarded
addresses are believed only from configured proxies. Each test talks to a real uvicorn over a socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import select
import socket
import time

import pytest

from domain.store import turns
from tests.waiting import PATIENCE, eventually


async def _open(api):
    host, port = api.base.removeprefix("http://").split(":")
    return await asyncio.open_connection(host, int(port))


async def _read_until_closed(reader, seconds):
    """Everything the server sends until it closes the connection (TimeoutError if it never does)."""
    chunks = []
    async with asyncio.timeout(seconds):
        try:
            while chunk := await reader.read(65536):
                chunks.append(chunk)
        except ConnectionResetError:  # closed while we were still sending: what came before it counts
            pass
    return b"".join(chunks)


def _awaiting() -> list[list[str]]:
    """What each task is awaiting now: the qualified names of the coroutines down its chain."""
    chains = []
    for task in asyncio.all_tasks():
        chain, coro = [], task.get_coro()
        while coro is not None and hasattr(coro, "__qualname__"):
            chain.append(coro.__qualname__)
            coro = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
        chains.append(chain)
    return chains


def _headers(api, extra):
    host = api.base.removeprefix("http://")
    return (f"POST /graphql HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{extra}\r\n").encode()


async def test_a_declared_body_past_the_limit_is_refused_unread(api):
    reader, writer = await _open(api)
    writer.write(_headers(api, f"Content-Length: {200 * 1024 * 1024}\r\n"))  # 200 MB announced, none sent
    await writer.drain()
    answer = await _read_until_closed(reader, 5)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    writer.close()


async def test_a_streamed_body_is_refused_once_it_passes_the_limit(api):
    reader, writer = await _open(api)
    answer = asyncio.create_task(reader.read(65536))  # read while sending: the answer comes mid-body
    writer.write(_headers(api, "Transfer-Encoding: chunked\r\n"))
    chunk = b"x" * 65536
    sent = 0
    with contextlib.suppress(ConnectionError):
        while not answer.done() and sent < 200 * 1024 * 1024:  # 200 MB, unless the server answers first
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()
            sent += len(chunk)
    assert (await asyncio.wait_for(answer, 5)).startswith(b"HTTP/1.1 413")
    assert sent < 16 * 1024 * 1024, f"the server kept reading: {sent} bytes sent"
    writer.close()


async def test_a_client_still_sending_after_the_refusal_reads_it(api):
    """A client that sends its body before it reads (as most do) is still sending after the 413 was sent;
    the server's close must not reset the connection under it, or the 413 is lost and the client sees only
    'connection reset' (in CI the reset raced the answer). The server lingers: it half-closes after the
    answer and reads and drops the rest for a while. A plain blocking socket, so nothing reads early."""
    host, port = api.base.removeprefix("http://").split(":")
    chunk = b"x" * 65536
    framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)

    def client() -> bytes:
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(_headers(api, "Transfer-Encoding: chunked\r\n") + framed * 24)  # 1.5 MiB, limit 1 MiB
            readable, _, _ = select.select([sock], [], [], 5)
            assert readable, "no answer"
            for _ in range(16):  # 1 MiB more after the answer came, as a client busy sending does
                sock.sendall(framed)
            answer = b""
            while part := sock.recv(65536):
                answer += part
            return answer

    answer = await asyncio.to_thread(client)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


async def test_a_body_that_breaks_the_parser_mid_request_is_a_400_and_nothing_fails(api, caplog):
    """The parser refuses the body (a bad chunk size) after the app has started on the request: uvicorn answers
    400 and closes, which lingers (the body is unread), while the app goes on to answer too. Its answer must be
    dropped quietly: a write after the half-close raised, and any client could fill the log with tracebacks."""
    reader, writer = await _open(api)
    host = api.base.removeprefix("http://")
    head = f"POST /no-such-page HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    writer.write(head + b"ZZZ\r\n")  # in one packet, the socket kept open; the app answers without reading
    await writer.drain()
    with caplog.at_level(logging.ERROR):
        answer = await _read_until_closed(reader, PATIENCE)
        await api.client.post(f"{api.base}/graphql", json={"query": "{ __typename }"})  # the app has run meanwhile
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
    writer.close()


@pytest.mark.api_settings(header_timeout_seconds=0.5)
async def test_an_answer_before_the_body_leaves_no_idle_connection_open(api):
    """The app answered before the body came (a 404 needs none); the client then sends the body and goes quiet. The
    connection is idle on keep-alive: it must be closed like any idle one, not held for ever (the body's deadline was
    disarmed when the body ended and uvicorn's keep-alive timer cancelled when it arrived)."""
    reader, writer = await _open(api)
    host = api.base.removeprefix("http://")
    writer.write(f"POST /no-such-page HTTP/1.1\r\nHost: {host}\r\nContent-Length: 10\r\n\r\n".encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), PATIENCE)
    assert head.startswith(b"HTTP/1.1 405"), head  # answered from the method and path alone
    writer.write(b"0123456789")  # the body, after the answer
    await writer.drain()
    await _read_until_closed(reader, 5)  # TimeoutError if the server holds it open
    writer.close()


async def test_a_client_trickling_its_body_holds_up_no_receipt(api):
    """A staged receipt's chunks wait (bounded) for the requests in flight (domain.store.turns). A request still
    sending its body is not served yet: counted, any anonymous client sending slow bodies made every chunk of a
    receipt wait the whole bound. It counts once its body is in, until its answer ends."""
    reader, writer = await _open(api)
    writer.write(_headers(api, "Content-Length: 40\r\n") + b'{"query": ')
    await writer.drain()
    await eventually(_awaiting, lambda chains: any(chain[:1] == ["RequestResponseCycle.run_asgi"]
                                                   and "Request.body" in chain for chain in chains),
                     what="the request's app waiting for its body")
    assert turns.in_flight() == 0
    writer.write(b'"{ __typename }"}'.ljust(30))
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), PATIENCE)
    assert head.startswith(b"HTTP/1.1 200"), head
    await eventually(turns.in_flight, lambda n: n == 0, what="the answered request no longer in flight")
    writer.close()


async def test_a_body_within_the_limit_is_served(api):
    padding = " " * (1024 * 1024 - 200)
    response = await api.client.post(f"{api.base}/graphql", content=f'{{"query": "{{ __typename }}"{padding}}}',
                                      headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text


@pytest.mark.api_settings(max_body_bytes=4096)
async def test_the_limit_is_configurable_and_covers_websocket_messages(api):
    response = await api.client.post(f"{api.base}/graphql", json={"query": "{ __typename }", "x": "y" * 5000})
    assert response.status_code == 413
    async with api.ws() as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"x": "y" * 5000}}))
        with pytest.raises(Exception) as closed:
            await asyncio.wait_for(ws.recv(), PATIENCE)
        assert "1009" in str(closed.value)  # message too big


@pytest.mark.api_settings(header_timeout_seconds=0.5)
async def test_a_client_slow_to_send_its_headers_is_disconnected(api):
    reader, writer = await _open(api)
    started = time.monotonic()
    writer.write(b"POST /graphql HTTP/1.1\r\n")
    await writer.drain()

    async def trickle():  # a header byte now and then, as a slowloris does
        with contextlib.suppress(ConnectionError):
            for _ in range(50):
                await asyncio.sleep(0.1)  # sleep-ok: the slow client this test is about
                writer.write(b"X")
                await writer.drain()

    sender = asyncio.create_task(trickle())
    answer = await _read_until_closed(reader, 5)
    sender.cancel()
    assert time.monotonic() - started < 2
    assert answer.startswith(b"HTTP/1.1 408"), answer
    writer.close()


@pytest.mark.api_settings(header_timeout_seconds=0.5)
async def test_an_idle_connection_is_disconnected(api):
    reader, writer = await _open(api)
    started = time.monotonic()
    await _read_until_closed(reader, 5)
    assert time.monotonic() - started < 2
    writer.close()


@pytest.mark.api_settings(body_timeout_seconds=0.5)
async def test_a_client_slow_to_send_its_body_is_disconnected(api):
    reader, writer = await _open(api)
    writer.write(_headers(api, "Content-Length: 100\r\n") + b'{"query": ')
    await writer.drain()
    started = time.monotonic()
    await _read_until_closed(reader, 5)
    assert time.monotonic() - started < 2
    writer.close()
    # a prompt client on a kept-alive connection is not cut off by the deadlines
    for _ in range(3):
        assert (await api.gql("{ __typename }", token=None))["data"] == {"__typename": "Query"}
        await asyncio.sleep(0.3)  # sleep-ok: time passing on a kept-alive connection is what is tested


_NESTED_40 = json.dumps({"query": "query($a: JSON) { __typename }",
                         "variables": {"a": json.loads("[" * 40 + "]" * 40)}})


@pytest.mark.parametrize("body", [b"null", b"3", b'"query"', b"\xff\xfe{\x00}", b"{", b"[" * 100_000 + b"]" * 100_000,
                                  _NESTED_40.encode()])
async def test_a_body_that_is_not_a_json_object_is_a_400(api, body):
    response = await api.client.post(f"{api.base}/graphql", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, (response.status_code, response.text)


async def test_variables_nested_100000_deep_are_a_400(api):
    deep = '{"query": "query($a: String) { __typename }", "variables": {"a": ' + "[" * 100_000 + "]" * 100_000 + "}}"
    response = await api.client.post(f"{api.base}/graphql", content=deep, headers={"content-type": "application/json"})
    assert response.status_code == 400, (response.status_code, response.text)


async def test_forwarded_addresses_from_an_untrusted_peer_share_its_bucket(api):
    sign_in = ('mutation { signInWithOrder(input: {email: "x@example.com", orderNumber: "nope"}) '
               '{ userErrors { code } } }')
    codes = []
    for attempt in range(11):
        response = await api.client.post(f"{api.base}/graphql", json={"query": sign_in},
                                          headers={"X-Forwarded-For": f"203.0.113.{attempt}"})
        codes.append(response.json()["data"]["signInWithOrder"]["userErrors"][0]["code"])
    assert codes == ["NOT_FOUND"] * 10 + ["RATE_LIMITED"]
