"""A Lambda Runtime API for one function process at a time, instrumented: how long from the process's start to
its first response (cold), how long each later invocation takes (warm), and the process's peak RSS (VmHWM).
Only 127.0.0.1."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API = "/2018-06-01/runtime/invocation"


class Runtime:
    def __init__(self):
        self.events: queue.Queue = queue.Queue()
        self.results: queue.Queue = queue.Queue()
        self.handed_out: dict[str, float] = {}
        runtime = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                if self.path != f"{API}/next":
                    self.send_error(404)
                    return
                event = runtime.events.get()
                request_id = str(uuid.uuid4())
                body = json.dumps(event).encode()
                runtime.handed_out[request_id] = time.perf_counter()
                self.send_response(200)
                function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
                for k, v in {"Lambda-Runtime-Aws-Request-Id": request_id,
                             "Lambda-Runtime-Deadline-Ms": str(int((time.time() + 60) * 1000)),
                             "Lambda-Runtime-Invoked-Function-Arn": function_arn,
                             "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Sampled=0",
                             "Content-Type": "application/json", "Content-Length": str(len(body))}.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                at = time.perf_counter()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = self.path[len(API) + 1:].split("/") if self.path.startswith(API) else []
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if len(parts) == 2 and parts[1] in ("response", "error"):
                    payload = json.loads(body or b"null")
                    runtime.results.put((parts[1], payload, at, runtime.handed_out.get(parts[0], at)))
                else:  # /runtime/init/error
                    runtime.results.put(("init-error", body.decode("utf-8", "replace"), at, at))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def peak_rss_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class Process:
    """One function process under the instrumented runtime."""

    def __init__(self, command: list[str], env: dict, log):
        self.runtime = Runtime()
        self.started = time.perf_counter()
        self.process = subprocess.Popen(command, env={**env, "AWS_LAMBDA_RUNTIME_API": self.runtime.address},
                                        stdout=log, stderr=log)

    def invoke(self, event: dict, timeout: float = 60) -> tuple[str, Any, float]:
        """(outcome, payload, seconds): outcome is response, error or init-error; seconds from the hand-out
        (or, for the first invocation, from the process start)."""
        first = self.runtime.handed_out == {}
        self.runtime.events.put(event)
        try:
            outcome, payload, at, handed = self.runtime.results.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"no answer in {timeout} s") from None
        return outcome, payload, at - (self.started if first else handed)

    def peak_rss_kib(self) -> int | None:
        return peak_rss_kib(self.process.pid)

    def close(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.runtime.close()


def lambda_env(name: str, endpoint: str, access_key: str, extra: dict | None = None) -> dict:
    """What Lambda gives a function process, pointed at the local AWS."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "VIRTUAL_ENV", "PYTHONPATH")}
    return {**keep, "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": "bench", "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_LAMBDA_FUNCTION_NAME": name, "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "bench", **(extra or {})}
