"""Shared state of the local AWS: its configuration, a clock with scheduled state transitions, and moto's backends."""

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
        # when each resource was created (eventual consistency) and when each instance became running (SSM)
        self.created_at: dict[str, float] = {}
        self.visible_at: dict[str, float] = {}  # when each new resource becomes visible to clients
        self.running_since: dict[str, float] = {}

    @staticmethod
    def now() -> float:
        return time.monotonic()

    def after(self, delay_name: str, action: Callable[[], None], key: str = "") -> None:
        """Run `action` once the profile's `delay_name` has passed for resource `key` (its own draw; the median
        when `key` is ""); at once when that delay is zero."""
        delay = self.config.delay(delay_name, key=key)
        if delay <= 0:
            action()
            return
        heapq.heappush(self._queue, (self.now() + delay, next(self._counter), action))

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

    def born(self, resource_id: str, like: str | None = None) -> None:
        """A resource was just created: it stays invisible to clients for its own consistency window (drawn for
        its id), or exactly as long as resource `like` (what AWS creates with a VPC is born with the VPC).
        A resource already known keeps its window (a ClientToken retry returns the original)."""
        if resource_id in self.visible_at:
            return
        now = self.now()
        if like is not None:
            if like not in self.visible_at:
                return
            self.created_at[resource_id] = self.created_at[like]
            self.visible_at[resource_id] = self.visible_at[like]
            return
        self.created_at[resource_id] = now
        self.visible_at[resource_id] = now + self.config.delay("consistency_window", key=resource_id)

    def too_new(self, resource_id: str) -> bool:
        """True while a just-created resource is still invisible to other API calls (eventual consistency)."""
        visible = self.visible_at.get(resource_id)
        return visible is not None and self.now() < visible


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
