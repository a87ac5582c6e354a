"""Which EC2 / SSM / STS / Service Quotas API calls each step function's code can make, read from the Rust sources.

The IAM policies in `infra/template.yaml` must grant exactly these (tests/test_template.py). The reading is
syntactic but closed: every `.<operation>(` of an EC2, SSM, STS or Service Quotas operation (names from
botocore's service models) in non-test code of `lab-core` (every module file; `#[cfg(test)]` items, `tests.rs` and
`test_support.rs` left out) is attributed to the function it is in, and the functions' calls are followed from
each binary's handler (`lab_core::<step>::handler`) through the crate's own functions. A call the reader cannot
attribute to a service is an error, not a silent miss.

    python -m aws_calls          # from infra/checks: the table, one function per line
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import botocore.session

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "functions" / "lab-core" / "src"
# IAM's service prefix -> botocore's model name (Service Quotas: "servicequotas" in IAM and in the SDK crate's name
# aws_sdk_servicequotas, "service-quotas" in botocore).
SERVICES = {"ec2": "ec2", "ssm": "ssm", "sts": "sts", "servicequotas": "service-quotas"}
CLIENTS = "|".join(SERVICES)
# Calls the SDK makes on our behalf through a type, not a `.operation(` in our code.
IMPLIED = {"AssumeRoleProvider": ("sts", "AssumeRole")}


def snake(name: str) -> str:
    """Smithy's Rust method name for an operation: DescribeVpcs -> describe_vpcs, GetAWSDefaultServiceQuota ->
    get_aws_default_service_quota (an acronym ends before its last capital when a lower-case letter follows)."""
    name = re.sub(r"(?<=[A-Z])([A-Z][a-z])", r"_\1", name)
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def operations() -> dict[str, dict[str, str]]:
    """snake_case method -> {service: OperationName} over the services (by IAM prefix)."""
    session = botocore.session.get_session()
    out: dict[str, dict[str, str]] = {}
    for service, model in SERVICES.items():
        for op in session.get_service_model(model).operation_names:
            out.setdefault(snake(op), {})[service] = op
    return out


def strip(source: str) -> str:
    """Source without comments, strings, char literals (so braces and words in them don't count) and `#[cfg(test)]`
    items: a `mod tests;` declaration, or an item up to its end (`;` or its balanced braces)."""
    source = re.sub(r'r(#*)"(?:.|\n)*?"\1', '""', source)
    # re.S: `\\.` takes a backslash before a newline too (a string continued on the next line)
    source = re.sub(r'"(?:\\.|[^"\\])*"', '""', source, flags=re.S)
    source = re.sub(r"'(?:\\.|[^'\\])'", "' '", source)
    source = re.sub(r"//[^\n]*", "", source)
    while (at := source.find("#[cfg(test)]")) >= 0:
        end = at + len("#[cfg(test)]")
        brace, semi = source.find("{", end), source.find(";", end)
        if semi >= 0 and (brace < 0 or semi < brace):
            end = semi + 1
        else:
            depth, end = 0, brace
            while end < len(source):
                depth += {"{": 1, "}": -1}.get(source[end], 0)
                end += 1
                if depth == 0:
                    break
        source = source[:at] + source[end:]
    return source


@dataclass
class Fn:
    module: str
    name: str
    body: str
    span: tuple[int, int] = (0, 0)
    # Parameters typed as a service's client: `home: &aws_sdk_ec2::Client` -> {"home": "ec2"}.
    clients: dict[str, str] = field(default_factory=dict)
    method: bool = False  # takes `self`: callable as `.name(`, the only kind a `.name(` can call
    calls: set[tuple[str, str]] = field(default_factory=set)  # (service, Operation)


def functions(module: str, source: str) -> list[Fn]:
    found = []
    for m in re.finditer(r"\bfn\s+(\w+)", source):
        open_at = source.find("{", m.end())
        semi = source.find(";", m.end())
        if open_at < 0 or (0 <= semi < open_at):
            continue  # a declaration without a body
        depth, i = 0, open_at
        while i < len(source):
            depth += {"{": 1, "}": -1}.get(source[i], 0)
            if depth == 0:
                break
            i += 1
        signature = source[m.end() : open_at]
        clients = {
            p.group(1): p.group(2)
            for p in re.finditer(rf"(\w+)\s*:\s*&?\s*aws_sdk_({CLIENTS})::Client\b", signature)
        }
        method = re.match(r"\s*(?:<[^(]*>)?\s*\(\s*(?:&\s*(?:'\w+\s+)?)?(?:mut\s+)?self\b", signature) is not None
        found.append(Fn(module, m.group(1), source[open_at : i + 1], (open_at, i + 1), clients, method=method))
    return found


def service_of(receiver: str, candidates: dict[str, str], clients: dict[str, str]) -> str | None:
    """The service a call's receiver names (`ctx.ec2`, `ssm`, `aws_sdk_sts::Client::new(..)`): the one named
    nearest the call, if it has the operation. A receiver naming none is not attributed (a method of some
    other type that happens to share an operation's name must not pass for an AWS call, nor the reverse)."""
    named = [(m.end(), m.group(1)) for m in re.finditer(rf"\b(?:aws_sdk_)?({CLIENTS})\b", receiver)]
    named += [(m.end(), clients[m.group(0)]) for m in re.finditer(r"\w+", receiver) if m.group(0) in clients]
    if not named:
        return None
    service = max(named)[1]
    return service if service in candidates else None


class Unattributed(Exception):
    pass


def read(core: Path = CORE) -> dict[tuple[str, str], Fn]:
    ops = operations()
    table: dict[tuple[str, str], Fn] = {}
    for path in sorted(core.rglob("*.rs")):
        module = path.stem  # `teardown/plan.rs` is module `plan`: calls name a module by its last segment
        if module in ("tests", "test_support", "lib"):
            continue
        source = strip(path.read_text())
        fns = functions(module, source)
        for m in re.finditer(r"\.\s*(\w+)\s*\(", source):
            if m.group(1) in ops and not any(a <= m.start() < b for a, b in (f.span for f in fns)):
                raise Unattributed(f"{module}: .{m.group(1)}( outside any function")
        for fn in fns:
            for m in re.finditer(r"\.\s*(\w+)\s*\(", fn.body):
                if m.group(1) not in ops:
                    continue
                candidates = ops[m.group(1)]
                # The receiver: the chain before the dot, back to the start of the statement.
                start = max(fn.body.rfind(c, 0, m.start()) for c in ";{=")
                receiver = fn.body[start + 1 : m.start()]
                service = service_of(receiver, candidates, fn.clients)
                if service is None:
                    raise Unattributed(f"{module}::{fn.name}: .{m.group(1)}( — no service in {receiver.strip()!r}")
                fn.calls.add((service, candidates[service]))
            for word, (service, op) in IMPLIED.items():
                if re.search(rf"\b{word}\b", fn.body):
                    fn.calls.add((service, op))
            table.setdefault((module, fn.name), fn)
    return table


def callees(fn: Fn, table: dict[tuple[str, str], Fn]) -> set[tuple[str, str]]:
    """The crate's own functions `fn` may call: `module::name(`, a bare `name(` of its own module, `.name(` (a method:
    only functions taking `self`, so `iter().find(` is not a call of some module's free `find`)."""
    names = {name for (_, name) in table}
    out: set[tuple[str, str]] = set()
    for m in re.finditer(r"(?:\b(\w+)::)?\b(\w+)\s*(?:::<[^>]*>)?\s*\(", fn.body):
        module, name = m.group(1), m.group(2)
        if name not in names:
            continue
        if module is None and fn.body[: m.start()].rstrip().endswith("."):
            out.update(k for k, f in table.items() if k[1] == name and f.method)
            continue
        if module in ("crate", "self", "Self", None):
            module = None
        if module is not None and (module, name) in table:
            out.add((module, name))
        elif module is None and (fn.module, name) in table:
            out.add((fn.module, name))
        elif module is None:
            # An imported function, or a method called by path: every definition of that name (over-approximates).
            out.update(k for k in table if k[1] == name)
    # Macro-expanded calls (`attempt!(.., ec2.delete_vpc()..)`) are in the body already.
    return out


def reachable(entry: tuple[str, str], table: dict[tuple[str, str], Fn]) -> set[tuple[str, str]]:
    seen, todo, calls = set(), [entry], set()
    while todo:
        key = todo.pop()
        if key in seen or key not in table:
            continue
        seen.add(key)
        calls |= table[key].calls
        todo.extend(callees(table[key], table))
    return calls


def entries(root: Path = ROOT) -> dict[str, tuple[str, str]]:
    """Each step binary -> the lab_core handler it runs (`lab_core::<step>::handler`)."""
    out = {}
    for main in sorted((root / "functions").glob("*/src/main.rs")):
        m = re.search(r"lab_core::(\w+)::handler\b", main.read_text())
        if not m:
            raise Unattributed(f"{main}: no lab_core::<step>::handler in it")
        out[main.parent.parent.name] = (m.group(1), "handler")
    return out


def calls_by_function(root: Path = ROOT) -> dict[str, set[str]]:
    """`create-vpc` -> {"ec2:CreateVpc", ...}: every call each step binary's code can make."""
    table = read(root / "functions" / "lab-core" / "src")
    return {
        crate: {f"{service}:{op}" for service, op in reachable(entry, table)}
        for crate, entry in entries(root).items()
    }


if __name__ == "__main__":
    for crate, calls in calls_by_function().items():
        print(f"{crate:16} {' '.join(sorted(calls)) or '-'}")
    sys.exit(0)
