"""Who is calling: the account and region of a request, found as moto finds them for its own services."""

from __future__ import annotations

import os
import re

from peerlab_local.core.world import DEFAULT_ACCOUNT

ACCESS_KEY = re.compile(r"Credential=([^/]+)/")
SCOPE = re.compile(r"Credential=[^/]+/[^/]+/([^/]+)/([^/]+)/")


def account_of(environ) -> str:
    """The caller's account, by moto's rule (moto/core/responses.py BaseResponse.get_current_account): the
    MOTO_ACCOUNT_ID variable, else the x-moto-account-id header, else the account of the access key
    (moto.iam.models.get_account_id_from: IAM users' keys and the temporary keys STS AssumeRole issued in the role's
    account), else moto's default account."""
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    if environ.get("HTTP_X_MOTO_ACCOUNT_ID"):
        return environ["HTTP_X_MOTO_ACCOUNT_ID"]
    match = ACCESS_KEY.search(environ.get("HTTP_AUTHORIZATION", ""))
    if not match:
        return DEFAULT_ACCOUNT
    from moto.iam.models import get_account_id_from

    return get_account_id_from(match.group(1))


def region_of(environ, default: str) -> str:
    """The region of the SigV4 credential scope (Credential=KEY/DATE/REGION/SERVICE/aws4_request)."""
    match = SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return match.group(1) if match else default
