"""The shape of an authorization request, shared by the IAM evaluator (evaluation.py) and the code that works out what a
call touches (context.py).

AWS authorizes a call once per resource it touches: a RunInstances is allowed only if the caller may
`ec2:RunInstances` on the instance, its network interface, its volume, the subnet, each security group and the image
(the Service Authorization Reference lists the resource types per action). So one call is a list of `Request`s, one
per resource ARN, each with the condition keys that hold for that resource (its tags as `aws:ResourceTag/...`,
`ec2:Vpc`, ...) merged with the call's own (`aws:RequestTag/...`, `aws:TagKeys`, `ec2:CreateAction`, ...). The call is
allowed only if every one of them is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# A condition key's value: one string, or several (multivalued keys such as aws:TagKeys), or a bool for Bool keys.
Value = str | bool | list[str]


@dataclass(frozen=True)
class Request:
    action: str  # "service:Action", as in a policy: "ec2:RunInstances"
    resource: str  # one ARN, or "*" for an action the SAR lists without resource types
    context: dict[str, Value] = field(default_factory=dict)  # condition keys; names compare case-insensitively


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # "allowed by <Sid or index>", "explicitly denied by ...", "no statement allows it"
    statement: str | None = None  # the deciding statement's Sid (or "#<index> of <policy name>")
