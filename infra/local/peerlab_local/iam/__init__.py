"""IAM and STS. The IAM core, which every service asks: policy.py reads policy documents, evaluation.py is the one
evaluator (identity policies and role trust policies, AWS's evaluation logic), model.py and context.py say what a
call asks for (one authorization request per resource, the Service Authorization Reference's keys), enforce.py
judges each role session's call (`--iam enforce`) and keeps the one record of decisions (GET /peerlab/iam,
/peerlab/iam/evaluated). Above it: trust.py (STS AssumeRole and services assuming roles, judged with the trust
policy) and identities.py (who signs each call the local AWS makes for a customer). README.md beside this file maps
them with their AWS sources."""

from __future__ import annotations

from peerlab_local.iam import enforce, identities, trust

# identities wraps what the Lambda, Step Functions and EventBridge packages patched (their installs come first) and
# listens to Lambda's invocations; trust judges enforce's AssumeRole calls and Lambda's execution roles (registration
# points of enforce and lambda_.runtime), then wraps moto's STS AssumeRole after enforce did.


def install(mode: str = "off") -> None:
    identities.install()
    enforce.install(mode)
    trust.install()
