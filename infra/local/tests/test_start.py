"""Starting and stopping the local AWS, and refusing bad configuration."""

import socket
import subprocess

import pytest

from conftest import START


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(START), *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("args, message", [
    (["--port", "0", "--profile", "slow"], "invalid choice: 'slow'"),
    (["--port", "0", "--fault-rate", "-0.1"], "--fault-rate must not be negative"),
    (["--port", "0", "--fault-rate", "2"], "--fault-rate is a probability between 0 and 1"),
    (["--port", "0", "--time-scale", "-1"], "--time-scale must not be negative"),
    (["--port", "seventy"], "--port must be an integer"),
    ([], "the following arguments are required: --port"),
    (["--port", "0", "--quota", "vpc/L-F678F1CE"], "--quota: expected SERVICE/QUOTA-CODE=VALUE"),
    (["--port", "0", "--quota", "ec2/L-0000=3"], "--quota: 'ec2/L-0000' is not a quota the local AWS models"),
    (["--port", "0", "--quota", "vpc/L-F678F1CE=2.5"], "the value must be a whole number"),
])
def test_bad_configuration_is_one_clear_error(args, message):
    result = run(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "ready" not in result.stdout


def test_port_in_use_is_an_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run("--port", str(port))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_ready_line_then_clean_exit_on_sigterm(start_local):
    aws = start_local()
    assert aws.url.startswith("http://127.0.0.1:")
    assert aws.get("/peerlab/health") == {"status": "ok"}
    assert aws.client("sts").get_caller_identity()["Account"] == "123456789012"
    assert aws.stop() == 0
