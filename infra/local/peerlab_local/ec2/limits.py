"""EC2 API rate limits as AWS applies them (opt in: --ec2-rate-limits), and a count of every call by caller.

AWS throttles EC2 per account and region with token buckets, one per API action ("Request throttling for the
Amazon EC2 API", EC2 developer guide): each request takes a token from its action's bucket, which refills at a
fixed rate up to its size; RunInstances and TerminateInstances also take one token per instance from a resource
bucket. Modelled here with the guide's default category figures (a request over the limit is RequestLimitExceeded,
HTTP 503), per second of AWS time:

    non-mutating (Describe*, Get*)   bucket 100, refill 20/s
    mutating (everything else)       bucket  50, refill  5/s
    RunInstances, resource tokens    bucket 1000, refill 2 instances/s
    TerminateInstances, resource     bucket 1000, refill 20 instances/s

In AWS time, as every other wait here: a bucket refills its rate ÷ --time-scale per real second (at x0.02, 250
mutating tokens a second). The workflow recovers from throttling in AWS time too: Step Functions' Retry intervals
(1-20 s, 51 s in all, for Throttled) run ÷ the time scale (stepfunctions/timing.py), and a lab polls at AWS's
intervals per AWS second. Refilled in real time, the buckets would see a class at x0.02 make 50 times the calls per
second it makes on AWS and give its retries a fiftieth of the tokens AWS gives in the same wait: the 50-lab bench
(2026-12-08) failed 34 labs Throttled that way, an error AWS would not raise. What stays real time: the calls
within one invocation, so a burst larger than a bucket is still refused at once, as on AWS. At --time-scale 1 the
buckets are AWS's; at 0 they never run dry (every wait is then 1 ms).

Not modelled: the guide's per-action exceptions and account-specific increases.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import Counter

REQUEST_BUCKETS = {"non-mutating": (100.0, 20.0), "mutating": (50.0, 5.0)}
RESOURCE_BUCKETS = {"RunInstances": (1000.0, 2.0), "TerminateInstances": (1000.0, 20.0)}


def category(action: str) -> str:
    return "non-mutating" if action.startswith(("Describe", "Get")) else "mutating"


class Bucket:
    """`refill` tokens per second of `clock` (real seconds: RateLimits gives it AWS's rate ÷ the time scale)."""

    def __init__(self, size: float, refill: float, clock=time.monotonic):
        self.size, self.refill, self.clock = size, refill, clock
        self.tokens, self.at = size, clock()

    def level(self, now: float) -> float:
        elapsed = now - self.at
        return min(self.size, self.tokens + elapsed * self.refill) if elapsed > 0 else self.tokens

    def take(self, n: float = 1.0) -> bool:
        now = self.clock()
        self.tokens = self.level(now)
        self.at = now
        if self.tokens >= n:
            self.tokens -= n
            return True
        return False


class RateLimits:
    """Per-action request buckets plus the resource buckets; `allow` says whether a call may go through."""

    def __init__(self, enabled: bool, clock=time.monotonic, time_scale: float = 1.0):
        self.enabled, self.clock = enabled, clock
        # AWS seconds per real second (see the module's docstring); at 0 every refill is at once
        self.speed = 1.0 / time_scale if time_scale > 0 else math.inf
        self.buckets: dict[str, Bucket] = {}
        self.throttled: Counter = Counter()
        self._lock = threading.Lock()

    def _bucket(self, key: str, size: float, refill: float) -> Bucket:
        if key not in self.buckets:
            self.buckets[key] = Bucket(size, refill * self.speed, self.clock)
        return self.buckets[key]

    def allow(self, action: str, params: dict[str, list[str]]) -> bool:
        if not self.enabled:
            return True
        with self._lock:
            request = self._bucket(action, *REQUEST_BUCKETS[category(action)])
            resource = None
            if action in RESOURCE_BUCKETS:
                if action == "RunInstances":
                    instances = int((params.get("MaxCount") or ["1"])[0])
                else:
                    instances = sum(1 for k in params if k.startswith("InstanceId."))
                resource = (self._bucket(f"{action}/resources", *RESOURCE_BUCKETS[action]), max(instances, 1))
            # both must have tokens; a refused request takes none from the resource bucket
            if resource and not _has(*resource):
                self.throttled[action] += 1
                return False
            if not request.take():
                self.throttled[action] += 1
                return False
            if resource:
                resource[0].take(resource[1])
            return True


def _has(bucket: Bucket, n: float) -> bool:
    return bucket.level(bucket.clock()) >= n


class Calls:
    """Every AWS call the local AWS answered or refused, by access key id and `service:Action`; and, by access key
    id, the wall seconds in which the local AWS was serving at least one of that key's calls (concurrent calls once):
    the instrument's own share of a caller's time (bench/run.py shows it beside each step's cold start)."""

    def __init__(self):
        self.by_key: dict[str, Counter] = {}
        self.served: dict[str, float] = {}
        self._open: dict[str, tuple[int, float]] = {}  # key -> (calls in service, since when)
        self._lock = threading.Lock()

    def count(self, key: str, service: str, action: str):
        with self._lock:
            self.by_key.setdefault(key or "?", Counter())[f"{service}:{action or '?'}"] += 1

    @contextlib.contextmanager
    def serving(self, key: str):
        if not key:  # unsigned, or an Invoke (server.Middleware: another function's run, not this call's serving)
            yield
            return
        with self._lock:
            n, since = self._open.get(key, (0, 0.0))
            self._open[key] = (n + 1, time.monotonic() if n == 0 else since)
        try:
            yield
        finally:
            with self._lock:
                n, since = self._open[key]
                if n == 1:
                    del self._open[key]
                    self.served[key] = self.served.get(key, 0.0) + time.monotonic() - since
                else:
                    self._open[key] = (n - 1, since)

    def snapshot(self) -> dict:
        with self._lock:
            return {key: dict(counts) for key, counts in self.by_key.items()}

    def served_snapshot(self) -> dict[str, float]:
        with self._lock:
            now = time.monotonic()
            return {**self.served, **{key: self.served.get(key, 0.0) + now - since
                                      for key, (_, since) in self._open.items()}}
