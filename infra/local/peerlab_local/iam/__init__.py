"""IAM and STS: who signs each call the local AWS makes for a customer (identities.py), the evaluation of identity
policies (evaluation.py, on the authorization requests of context.py and model.py), enforcement on every role
session's call (enforce.py, `--iam enforce`), and STS AssumeRole judged with the trust policy (trust.py)."""

from __future__ import annotations

from peerlab_local.iam import enforce, identities, trust

# identities wraps what the Lambda, Step Functions and EventBridge packages patched (their installs come first);
# trust wraps enforce's AssumeRole check.


def install(mode: str = "off") -> None:
    identities.install()
    enforce.install(mode)
    trust.install()
