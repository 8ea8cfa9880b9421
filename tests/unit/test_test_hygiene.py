"""The tests wait for what should happen and never for a time, read no local clock, and cannot hang CI.

CI runs the suite on a clean clone on a busy 2-core machine, and one red test lands nothing. Each of these was red
there some day: a fixed sleep ("the other process has subscribed by now"), a fixed number of tries (100 looks
50 ms apart), a local date where the code reads UTC's (another day for hours of every day, away from UTC), and a
test blocked with no end. tests/waiting.py polls a condition within one generous deadline instead; this reads
every test module and names each place that does it the other way, so that the next one is caught in review's
place, not by a red CI some night.

A sleep that is no wait (a slow client being simulated, a quiet spell being measured, a silence being checked,
which a slow machine can only weaken, never fail) says so on its line: `# sleep-ok: why`.
"""

from __future__ import annotations

import ast
import importlib.util
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
ALLOWED = "# sleep-ok:"
WAITING = TESTS / "waiting.py"  # the one place that sleeps between looks
# local time, or today as this machine's zone has it (the service's clock is UTC: domain/clock.py)
LOCAL_CLOCK = {("date", "today"), ("datetime", "today"), ("datetime", "utcnow"), ("time", "localtime"),
               ("time", "ctime"), ("time", "mktime"), ("time", "strftime")}


def _name(node: ast.expr) -> tuple[str, str] | None:
    """("datetime", "now") for datetime.now, ("", "sleep") for a bare sleep."""
    if isinstance(node, ast.Attribute):
        owner = node.value
        base = owner.attr if isinstance(owner, ast.Attribute) else owner.id if isinstance(owner, ast.Name) else "?"
        return base, node.attr
    if isinstance(node, ast.Name):
        return "", node.id
    return None


def _is_sleep(call: ast.Call) -> bool:
    name = _name(call.func)
    return name is not None and name[1] == "sleep"


def _is_zero(call: ast.Call) -> bool:
    return (len(call.args) == 1 and isinstance(call.args[0], ast.Constant) and call.args[0].value == 0
            and not call.keywords)


def problems(source: str, path: str = "<test>") -> list[str]:
    """Every fixed sleep, fixed number of tries and local-clock read in a test module's source."""
    tree = ast.parse(source)
    lines = source.splitlines()

    def allowed(node: ast.AST) -> bool:
        return ALLOWED in lines[node.lineno - 1]  # type: ignore[attr-defined]

    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.For | ast.AsyncFor) and isinstance(node.iter, ast.Call) \
                and _name(node.iter.func) == ("", "range"):
            sleeps = [n for n in ast.walk(node) if isinstance(n, ast.Call) and _is_sleep(n) and not allowed(n)]
            if sleeps:
                found.append(f"{path}:{node.lineno}: a fixed number of tries (a loop over range() that sleeps): "
                             "wait for the condition with tests.waiting.eventually")
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        if _is_sleep(node) and not _is_zero(node) and not allowed(node):
            found.append(f"{path}:{node.lineno}: a fixed sleep: wait for what it waits for with "
                         f"tests.waiting.eventually (or say `{ALLOWED} why` if it is no wait)")
        elif name in LOCAL_CLOCK or name == ("datetime", "now") and not node.args and not node.keywords \
                or name == ("datetime", "fromtimestamp") and len(node.args) < 2 and not node.keywords:
            found.append(f"{path}:{node.lineno}: {'.'.join(name)}() reads this machine's zone (local time): "  # type: ignore[arg-type]
                         "the service's day is UTC's (datetime.now(UTC), or the test's FixedClock)")
    return found


def test_no_test_sleeps_for_a_fixed_time_tries_a_fixed_number_of_times_or_reads_local_time():
    modules = sorted(p for p in TESTS.rglob("*.py") if p != WAITING)
    assert len(modules) > 100
    found = [problem for p in modules for problem in problems(p.read_text(encoding="utf-8"), str(p.relative_to(ROOT)))]
    assert found == []


@pytest.mark.parametrize("source", [
    # the shapes that turned CI red
    "async def t():\n    await asyncio.sleep(0.5)  # subscribed on the bus of the other process\n",
    "def t():\n    time.sleep(0.2)\n",
    "async def t(api):\n    for _ in range(100):\n        if ok():\n            break\n"
    "        await asyncio.sleep(0.05)\n",
    "async def t():\n    for _ in range(100):\n        await asyncio.sleep(0)\n",  # a fixed number of loop turns
    "def t():\n    since = date.today()\n",
    "def t():\n    now = datetime.now()\n",
    "def t():\n    now = datetime.datetime.utcnow()\n",
    "def t():\n    stamp = time.strftime('%Y-%m-%d')\n",
    "def t():\n    when = datetime.fromtimestamp(0)\n",
])
def test_each_kind_of_fragile_wait_or_local_clock_is_found(source):
    assert len(problems(source)) >= 1


@pytest.mark.parametrize("source", [
    "async def t():\n    await asyncio.sleep(0)\n",  # a turn of the event loop, no time
    "async def t():\n    await asyncio.sleep(0.1)  # sleep-ok: the slow client this test is about\n",
    "async def t():\n    await eventually(lambda: server.started, what='the server starts')\n",
    "def t():\n    today = datetime.now(UTC).date()\n",
    "def t():\n    for n in range(3):\n        place(n)\n",
])
def test_what_is_no_fixed_wait_and_no_local_clock_passes(source):
    assert problems(source) == []


def test_every_test_has_a_time_limit():
    """pytest-timeout fails a test that runs too long (tests/conftest.py's watchdog ends the run when even that
    cannot free it); without a limit a hung test held CI until the job was killed, with nothing said."""
    assert importlib.util.find_spec("pytest_timeout") is not None
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    limit = float(config["tool"]["pytest"]["ini_options"]["timeout"])
    assert 0 < limit <= 900
