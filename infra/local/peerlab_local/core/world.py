"""The simulation's engine, not AWS state: its configuration, a clock with scheduled state transitions, draw counters
for reproducible choices, and access to moto's backends (AWS state per account and region lives in BackendDicts)."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable

from peerlab_local.core.config import Config

DEFAULT_ACCOUNT = "123456789012"

# One lock for every change of the simulated world: moto's models are not thread-safe, and the server is threaded.
# Lambda invocations run outside it (the function's own AWS calls take it again, request by request).
LOCK = threading.RLock()


class World:
    def __init__(self, config: Config):
        self.config = config
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._counter = itertools.count()
        self._ticking = False
        self._due = 0.0
        self._draws: dict[str, itertools.count] = {}  # per name: how many reproducible draws were made (draw())
        # per resource key: each delay it entered (after()): its name, when it began (clock) and its seconds
        self._delays: dict[str, list[tuple[str, float, float]]] = {}

    def draw(self, name: str) -> int:
        """The number of the next draw named `name` (0, 1, ...): what a choice seeded by --seed hashes with, so that
        the same calls make the same choices. The simulation's own counter, not AWS state."""
        with LOCK:
            return next(self._draws.setdefault(name, itertools.count()))

    @staticmethod
    def now() -> float:
        return time.monotonic()

    def after(self, delay_name: str, action: Callable[[], None], key: str = "") -> None:
        """Run `action` once the profile's `delay_name` has passed for resource `key` (its own draw; the median
        when `key` is ""); at once when that delay is zero."""
        delay = self.config.delay(delay_name, key=key)
        if key:
            self._delays.setdefault(key, []).append((delay_name, self.now(), delay))
        if delay <= 0:
            action()
            return
        heapq.heappush(self._queue, (self.now() + delay, next(self._counter), action))

    def delays_of(self, key: str) -> list[dict]:
        """Each delay resource `key` entered, in order: its name, when it began (seconds since the epoch) and how long
        it lasts here (scaled) and in AWS time (÷ --time-scale). The instrument's account of its own timing, for the
        inventory (what `peerlab run` replays in AWS time), not AWS state: AWS shows no such thing."""
        scale, offset = self.config.time_scale, time.time() - self.now()
        return [{"name": name, "began": round(offset + began, 6), "seconds": round(seconds, 6),
                 "aws_seconds": round(seconds / scale, 6) if scale > 0 else None}
                for name, began, seconds in self._delays.get(key, [])]

    def at(self, when: float, action: Callable[[], None], defer: bool = False) -> None:
        """Run `action` at clock time `when` (world.now()); at once when that time has come, unless transitions are
        being applied (tick), where it is queued so that it runs in time order with the others that are due.
        `defer`: always queue it, so that it runs at the next request at the earliest."""
        if when <= self.now() and not self._ticking and not defer:
            action()
            return
        heapq.heappush(self._queue, (when, next(self._counter), action))

    def tick(self) -> None:
        """Apply every transition that is due. Called before each request is served: time passes between calls."""
        with LOCK:
            now = self.now()
            self._ticking = True
            try:
                while self._queue and self._queue[0][0] <= now:
                    self._due, _, action = heapq.heappop(self._queue)
                    action()
            finally:
                self._ticking = False

    def event_time(self) -> float:
        """When the transition being applied was due (tick runs it later, at the next request); else now."""
        return self._due if self._ticking else self.now()


_world: World | None = None


def install(config: Config) -> World:
    global _world
    _world = World(config)
    return _world


def world() -> World:
    if _world is None:
        raise RuntimeError("the local AWS has not been configured (peerlab_local.core.world.install)")
    return _world


def ec2_backends():
    from moto.ec2.models import ec2_backends as backends

    return backends


def ec2(account: str = DEFAULT_ACCOUNT, region: str | None = None):
    return ec2_backends()[account][region or world().config.region]


def all_ec2():
    """Every EC2 backend that exists (one per account and region that was used)."""
    for account, regions in list(ec2_backends().items()):
        for region, backend in list(regions.items()):
            yield account, region, backend
