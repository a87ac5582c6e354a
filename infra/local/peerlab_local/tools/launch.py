"""Start a local AWS from the project's launcher (infra/local/start) on a free port of 127.0.0.1 and stop it:
for the local AWS's tests, the benchmark and the fixture recorder. Not imported by the server itself."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import urllib.request
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[4]
START = ROOT / "infra" / "local" / "start"


class LocalAws:
    def __init__(self, *args: str, stderr=None, env: dict | None = None, region: str = "us-east-1"):
        # stderr to a file, not a pipe: a pipe nobody reads blocks the server once it is full
        self.stderr = stderr if stderr is not None else tempfile.TemporaryFile(mode="w+")
        self.region = region
        self.process = subprocess.Popen([str(START), "--port", "0", *args], stdout=subprocess.PIPE,
                                        stderr=self.stderr, text=True, env={**os.environ, **(env or {})})
        assert self.process.stdout is not None  # Popen(stdout=PIPE)
        line = self.process.stdout.readline().strip()
        if not line.startswith("ready "):
            self.process.kill()
            self.process.wait()
            said = ""
            if hasattr(self.stderr, "seek"):
                self.stderr.seek(0)
                said = self.stderr.read()
            raise RuntimeError(f"local AWS did not start: {line!r} {said}".strip())
        self.url = line.split(" ", 1)[1]

    def client(self, service: str, config=None):
        return boto3.client(service, endpoint_url=self.url, region_name=self.region, aws_access_key_id="test",
                            aws_secret_access_key="test", config=config)

    def get(self, path: str, timeout: float = 10):
        with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
            return json.load(response)

    def stop(self, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.stderr.close()
        return self.process.returncode
