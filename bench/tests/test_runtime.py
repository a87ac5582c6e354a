"""The benchmark's instrumented Lambda Runtime API, with the boto3 reference's validate-input (which asks EC2 where
to place the lab: a plain moto server on 127.0.0.1 answers here)."""

import socket
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from runtime import Process, lambda_env  # noqa: E402


@pytest.fixture
def ec2_url():
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def test_a_process_is_timed_cold_then_warm_and_its_peak_rss_read(tmp_path, ec2_url):
    env = lambda_env("validate-input", ec2_url, "AKIDTEST")
    env["PYTHONPATH"] = str(ROOT / "bench" / "reference")
    with open(tmp_path / "log", "w") as log:
        proc = Process([sys.executable, str(ROOT / "bench/reference/bootstrap.py"), "validate-input"], env, log)
        try:
            event = {"input": {"lab_id": "t1"}, "execution_name": "t1", "start_time": None}
            outcome, payload, cold = proc.invoke(event)
            assert outcome == "response" and payload["lab_id"] == "t1", payload
            assert payload["vpc_a"]["availability_zone"].startswith("us-east-1")  # placed, as placement.rs does
            outcome, payload, warm = proc.invoke({"input": {}, "execution_name": "Run_2"})
            assert outcome == "response" and payload["lab_id"] == "run-2"
            assert cold > 0 and warm > 0  # figures, not judged here: make bench compares them
            assert (proc.peak_rss_kib() or 0) > 10_000
            outcome, payload, _ = proc.invoke({"no": "fields"})  # the handler's KeyError: a function error
            assert outcome == "error" and payload["errorType"] == "KeyError"
        finally:
            proc.close()
    assert proc.process.poll() is not None
