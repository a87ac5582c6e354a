"""The SSM Agent of each simulated instance: its start-up and its hibernation, as aws/amazon-ssm-agent does them.

What the agent does (aws/amazon-ssm-agent, mainline snapshot 1c217c8 of 2024-10-21):
- It is a systemd unit started After=network-online.target (packaging/linux/amazon-ssm-agent.service): some
  seconds after the instance is `running` (the `agent_boot` delay, config.py).
- Before it starts its worker, `SSMAgent.Hibernate()` (agent/agent/agent.go) sends one health ping:
  `healthModule.GetAgentState()` (agent/health/healthcheck.go) calls UpdateEmptyInstanceInformation with the
  instance profile's credentials; any error (no credentials, no route to `ssm`, endpoint not ready) is `Passive`.
  A successful ping is the UpdateInstanceInformation that makes DescribeInstanceInformation say Online.
- On `Passive` it runs `ExecuteHibernation` (agent/hibernation/hibernation.go): it waits `initialPingRate`
  (5 * 60 s), then `scheduleBackOffStrategy` doubles the interval (`multiplier` 2) up to `maxBackOffInterval`
  (60 * 60 s) and pings every interval for `backOffRate` (3) intervals; the scheduler (vendored
  carlescere/scheduler `Every(n).Seconds().Run`) pings at once, then every n s. So after a failed first ping at t0
  the agent pings again at t0 + 300, 900, 1500 (every 600 s for 1800 s), 2100, 3300, 4500 (every 1200 s for
  3600 s), 5700, 8100, 10500 (2400 s), 12900, 16500, ... (every 3600 s from then on), and starts - Online - at the
  first of these pings that succeeds. Fixing the path in between changes nothing until that ping.
  (A later revision of hibernation.go reads the cap from HibernationMaxBackoffIntervalMinutes and first repeats
  the 300 s rate for 900 s; its first re-ping is also 300 s after the failed one.)
- The hibernation timers are the agent's behaviour, not an AWS delay: `--time-scale` scales them, the `instant`
  profile does not zero them (config.Config.agent_seconds). A workflow that launches its instance before the
  instance can reach SSM waits for the agent on `instant` too.
- Once Online the instance stays Online while it runs: ConnectionLost (a later ping failing) is not simulated.

The agent's state is evaluated by scheduled pings on the world's clock (world.at), so a ping sees the EC2 state of
its own moment, whenever the next request comes.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

from peerlab_local.core.world import world
from peerlab_local.ssm.backend import backend_of
from peerlab_local.ssm.reachability import ping_problem

# aws/amazon-ssm-agent agent/hibernation/hibernation.go
INITIAL_PING_RATE = 5 * 60  # initialPingRate: seconds before the first hibernation ping
MULTIPLIER = 2  # multiplier: each back-off doubles the ping interval
BACKOFF_RATE = 3  # backOffRate: an interval is kept for this many intervals
MAX_BACKOFF_INTERVAL = 60 * 60  # maxBackOffInterval: the interval stops growing here


def hibernation_offsets() -> Iterator[float]:
    """Seconds after the failed start-up ping at which the hibernating agent pings again (before --time-scale)."""
    start, interval = INITIAL_PING_RATE, INITIAL_PING_RATE
    while interval < MAX_BACKOFF_INTERVAL:
        interval = min(interval * MULTIPLIER, MAX_BACKOFF_INTERVAL)
        for k in range(BACKOFF_RATE):  # the job pings at once, then every interval, for BACKOFF_RATE intervals
            yield start + k * interval
        start += interval * BACKOFF_RATE
    while True:  # at the cap scheduleBackOffStrategy returns early and the job keeps its interval
        yield start
        start += MAX_BACKOFF_INTERVAL


def online_at(first_ping: float, path_ready: float, time_scale: float = 1.0) -> float:
    """When an agent whose first ping is at `first_ping` gets Online, if its way to SSM is ready at `path_ready`
    (and nothing else blocks it): at that ping, else at the first hibernation ping from then on."""
    if first_ping >= path_ready:
        return first_ping
    for offset in hibernation_offsets():
        ping = first_ping + max(offset * time_scale, 0.001)
        if ping >= path_ready:
            return ping
    raise AssertionError("unreachable: the schedule is endless")


@dataclasses.dataclass
class Agent:
    instance_id: str
    running_at: float
    state: str = "booting"  # booting | hibernating | online
    next_ping_at: float | None = None
    pings: int = 0
    last_ping_at: float | None = None
    last_failure: str | None = None  # why the last ping failed
    failed_at: float | None = None  # the failed start-up ping: hibernation counts from it
    online_at: float | None = None
    schedule: Iterator[float] | None = dataclasses.field(default=None, repr=False)

    def view(self) -> dict:
        """The inventory's view: state, pings, the next ping (seconds from now and wall-clock time), last failure."""
        w = world()
        now, wall = w.now(), time.time()

        def clock(t):
            return None if t is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(wall + t - now))

        out = {"state": self.state, "pings": self.pings, "last_ping_at": clock(self.last_ping_at),
               "last_ping_failure": self.last_failure}
        if self.next_ping_at is not None:
            out["next_ping_in_s"] = round(max(0.0, self.next_ping_at - now), 3)
            out["next_ping_at"] = clock(self.next_ping_at)
        if self.online_at is not None:
            out["online_at"] = clock(self.online_at)
            out["online_epoch"] = round(wall + self.online_at - now, 6)  # the same, in seconds (peerlab run's replay)
        return out


def _agents(instance) -> dict[str, Agent]:
    """The SSM Agents of the instance's account and region (kept with its SSM state: ssm/backend.py)."""
    return backend_of(instance).agents


def agent_of(instance) -> Agent | None:
    return _agents(instance).get(instance.id)


def on_running(instance) -> None:
    """The instance has just become `running`: its agent starts after `agent_boot` and sends its first ping."""
    w = world()
    agent = Agent(instance.id, running_at=w.event_time())
    agent.next_ping_at = agent.running_at + w.config.delay("agent_boot", key=instance.id)
    _agents(instance)[instance.id] = agent
    # always queued, even when due: RunInstances associates the instance profile after the instance exists, and the
    # ping must see the instance as the request left it
    w.at(agent.next_ping_at, lambda: _ping(agent, instance), defer=True)


def _ping(agent: Agent, instance) -> None:
    if agent_of(instance) is not agent or instance._state.name != "running":
        return  # terminated or stopped: the agent is gone
    w = world()
    when = agent.next_ping_at if agent.next_ping_at is not None else w.now()
    problem = ping_problem(instance)
    agent.pings += 1
    agent.last_ping_at = when
    if problem is None:
        agent.state, agent.online_at, agent.next_ping_at, agent.last_failure = "online", when, None, None
        return
    agent.state, agent.last_failure = "hibernating", problem
    if agent.schedule is None:
        agent.failed_at, agent.schedule = when, hibernation_offsets()
    assert agent.failed_at is not None  # set with the schedule, at the first failed ping
    following = agent.failed_at + w.config.agent_seconds(next(agent.schedule))
    if following <= when:  # --time-scale 0: the timers are 1 ms; never ping twice at one moment
        following = max(when, w.now()) + 0.001
    agent.next_ping_at = following
    w.at(following, lambda: _ping(agent, instance))


def describe(agent: Agent | None, problem: str | None) -> str:
    """Why an instance is not Online, in words: what blocks SSM now, and what its agent is doing."""
    now = world().now()
    if agent is None:
        return problem or "SSM Agent has not started"
    if agent.state == "booting":
        wait = max(0.0, (agent.next_ping_at or now) - now)
        text = f"SSM Agent is starting: its first ping in {wait:.1f} s"
        return f"{problem}; {text}" if problem else text
    if agent.state == "hibernating":
        wait = max(0.0, (agent.next_ping_at or now) - now)
        if problem == agent.last_failure:
            return f"{problem}; SSM Agent is hibernating: next ping in {wait:.1f} s"
        text = f"SSM Agent is hibernating (its last ping failed: {agent.last_failure}); next ping in {wait:.1f} s"
        return f"{problem}; {text}" if problem else f"{text}; nothing blocks it now"
    return "Online"
