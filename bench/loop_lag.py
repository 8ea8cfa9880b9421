"""Where the event loop is held: a heartbeat coroutine ticks every millisecond, and a watchdog thread samples the
loop thread's stack whenever the heartbeat is late by more than a threshold. After a run, each stretch the loop
was held (longer than the threshold) is printed with where its samples were: the code that held it.

`BENCH_LAG=ms` in `bench.allocation` turns it on for each receipt (e.g. BENCH_LAG=20).
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

ROOT = str(Path(__file__).resolve().parent.parent)


@dataclass
class Stretch:
    started: float  # the heartbeat's last tick before it
    seconds: float = 0.0
    cpu: float = 0.0  # of it, the loop thread's own CPU time (the rest: waiting for the GIL or for a core)
    samples: list[tuple[str, ...]] = field(default_factory=list)
    others: list[tuple[str, ...]] = field(default_factory=list)  # where the other threads were, when busy


def _busy(frame: FrameType) -> bool:
    """Not a thread waiting for work (an idle worker of the executor, the RSS sampler)."""
    return frame.f_code.co_name not in ("wait", "_worker", "get", "_sample", "select", "read")


def _where(frame: FrameType | None, depth: int = 6) -> tuple[str, ...]:
    """The innermost frame and the innermost frames of the project (not its virtualenv), innermost first."""
    found: list[str] = []
    inner = True
    while frame is not None and len(found) < depth:
        name = frame.f_code.co_filename
        ours = name.startswith(ROOT) and "/.venv/" not in name and not name.endswith("loop_lag.py")
        if inner or ours:
            short = name[len(ROOT) + 1:] if name.startswith(ROOT) else name.rsplit("/", 2)[-1]
            found.append(f"{short}:{frame.f_lineno} {frame.f_code.co_name}")
        inner = False
        frame = frame.f_back
    return tuple(found)


class LoopLag:
    """`async with LoopLag(0.02) as lag:` ... `lag.stretches` (the loop held longer than 20 ms), `lag.longest`."""

    def __init__(self, threshold: float = 0.02, every: float = 0.002) -> None:
        self.threshold = threshold
        self.every = every
        self.stretches: list[Stretch] = []
        self._tick = time.perf_counter()
        self._stop = threading.Event()
        self._loop_thread = threading.get_ident()

    async def __aenter__(self) -> LoopLag:
        self._loop_thread = threading.get_ident()
        self._tick = self._began = time.perf_counter()
        self.collections: list[tuple[float, float, int, bool]] = []  # start, seconds, generation, on the loop thread
        gc.callbacks.append(self._on_gc)
        self._beat = asyncio.create_task(self._heartbeat())
        self._watch = threading.Thread(target=self._watchdog, daemon=True)
        self._watch.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._beat.cancel()
        gc.callbacks.remove(self._on_gc)
        self._stop.set()
        self._watch.join()

    @property
    def longest(self) -> float:
        return max((s.seconds for s in self.stretches), default=0.0)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            took = time.perf_counter() - self._gc_started
            if took > 0.005:
                self.collections.append((self._gc_started, took, info["generation"],
                                         threading.get_ident() == self._loop_thread))
                if took > 0.05:
                    print(f"  gc gen{info['generation']} {took * 1000:.0f} ms at "
                          f"{self._gc_started - self._began:.1f} s, {info['collected']} collected", flush=True)

    async def _heartbeat(self) -> None:
        cpu = time.thread_time()
        while True:
            now, cpu_now = time.perf_counter(), time.thread_time()
            gap = now - self._tick
            self._tick = now
            if gap > self.threshold:
                if not (self.stretches and self.stretches[-1].seconds == 0.0):
                    self.stretches.append(Stretch(now - gap))
                self.stretches[-1].seconds = gap
                self.stretches[-1].cpu = cpu_now - cpu
            cpu = cpu_now
            await asyncio.sleep(0.001)

    def _watchdog(self) -> None:
        current: Stretch | None = None
        while not self._stop.wait(self.every):
            tick = self._tick
            if time.perf_counter() - tick <= self.threshold:
                continue
            frames = sys._current_frames()
            if current is None or current.started != tick:
                current = Stretch(tick)
                self.stretches.append(current)
            current.samples.append(_where(frames.get(self._loop_thread)))
            me = threading.get_ident()
            current.others.extend(_where(frame, 3) for ident, frame in frames.items()
                                  if ident not in (me, self._loop_thread) and _busy(frame))
            # not kept until the next sample: the frames hold their locals (a receipt's events), which then
            # outlived the collector's hold and made the first collection after it scan them
            del frames

    def report(self, top: int = 12) -> str:
        """The longest stretches, each with the places its samples were most often."""
        lines = [f"  loop held > {self.threshold * 1000:.0f} ms: {len(self.stretches)} times, "
                 f"longest {self.longest * 1000:.0f} ms, in all {sum(s.seconds for s in self.stretches):.2f} s "
                 f"({sum(s.cpu for s in self.stretches):.2f} s CPU on the loop); "
                 f"collections over 5 ms: " + ", ".join(
                     f"gen{g} {sum(1 for c in self.collections if c[2] == g)} "
                     f"(longest {max((c[1] for c in self.collections if c[2] == g), default=0) * 1000:.0f} ms)"
                     for g in (0, 1, 2))]
        longest = sorted(self.stretches, key=lambda s: -s.seconds)[:3]
        busiest = [s for s in sorted(self.stretches, key=lambda s: -s.cpu) if s not in longest][:top - 3]
        for stretch in longest + busiest:
            end = stretch.started + stretch.seconds
            collected = [(took, generation, ours) for at, took, generation, ours in self.collections
                         if at < end and at + took > stretch.started]
            lines.append(f"    {stretch.seconds * 1000:6.0f} ms, {stretch.cpu * 1000:.0f} ms CPU on the loop "
                         f"({len(stretch.samples)} samples)" + "".join(
                f"; gc gen{generation} {took * 1000:.0f} ms {'on the loop' if ours else 'in a worker'}"
                for took, generation, ours in collected))
            for where, n in Counter(stretch.samples).most_common(2):
                lines.append(f"      {n:3d}x " + " < ".join(where))
            for where, n in Counter(stretch.others).most_common(1):
                lines.append(f"      other thread {n:3d}x " + " < ".join(where))
        return "\n".join(lines)
