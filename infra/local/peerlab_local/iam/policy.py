"""The one reader of IAM policy documents: every policy the local AWS evaluates (identity policies, permissions
boundaries, session policies, role trust policies) and every policy a tool reads back goes through `read`.

The forms a document comes in:
- a dict (the local CloudFormation, a test, a policy already read);
- a JSON string (what moto keeps for CreateRole/PutRolePolicy/CreatePolicyVersion and AssumeRole's `Policy`);
- URL-encoded JSON: IAM's API returns policy documents "URL-encoded compliant with RFC 3986" (IAM API reference,
  GetRolePolicy / GetPolicyVersion / Role.AssumeRolePolicyDocument: "The policy document returned in this structure
  is URL-encoded"), and moto stores what such a client sends back.
`Statement` is one statement object or a list of them ("IAM JSON policy elements: Statement": "The Statement element
can contain a single statement or an array of individual statements"); `statements` always gives a list.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any


def read(document: Any) -> dict:
    """The policy as a dict; `None` or "" is a policy without statements. A text that is neither JSON nor
    URL-encoded JSON raises ValueError (json.JSONDecodeError): it is not a policy IAM would have stored."""
    if document is None or document == "":
        return {"Statement": []}
    if isinstance(document, dict):
        return document
    if isinstance(document, bytes):
        document = document.decode("utf-8")
    try:
        parsed = json.loads(document)
    except ValueError:
        parsed = json.loads(urllib.parse.unquote(document))
    if not isinstance(parsed, dict):
        raise ValueError(f"a policy document is a JSON object, not {type(parsed).__name__}")
    return parsed


def statements(document: Any) -> list[dict]:
    """The document's statements as a list, whichever form `Statement` has."""
    listed = read(document).get("Statement", [])
    if isinstance(listed, dict):
        return [listed]
    return list(listed or [])


def with_statements(document: Any, listed: list[dict]) -> dict:
    """The document (its Version, Id) with `listed` as its statements."""
    return {**read(document), "Statement": list(listed)}


def as_list(value: Any) -> list:
    """A policy element that may be one value or a list (Action, Resource, a Principal's AWS/Service, a condition's
    values): always a list."""
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]
