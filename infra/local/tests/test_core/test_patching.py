"""Every change the local AWS makes to moto goes through peerlab_local.patching, which records it; here the record
is checked against a pristine moto, so an upgrade that renames or removes something patched fails this test."""

from __future__ import annotations

import ast
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

from peerlab_local.core import patching
from peerlab_local.core.patching import Patch

PACKAGE = Path(patching.__file__).parents[1]  # peerlab_local/ (patching.py is in core/)
LOCAL = PACKAGE.parent

RECORD = """
import dataclasses, json
from peerlab_local.__main__ import install_patches
from peerlab_local.core import patching
install_patches("enforce")
print(json.dumps([dataclasses.asdict(p) for p in patching.PATCHES]))
"""

CHECK = """
import json, sys
from peerlab_local.core import patching
patches = [patching.Patch(**p) for p in json.load(sys.stdin)]
print(json.dumps(patching.check(patches)))
"""


def _python(code: str, stdin: str = "") -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=LOCAL, input=stdin, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _pristine_check(patches: list[Patch]) -> list[str]:
    """patching.check in a fresh interpreter: moto as installed, nothing patched."""
    return json.loads(_python(CHECK, json.dumps([dataclasses.asdict(p) for p in patches])))


def test_every_patched_attribute_is_still_moto_s_own():
    patches = [Patch(**p) for p in json.loads(_python(RECORD))]
    # what the start-up patches, as the launcher applies it (a floor: a module that stops recording shows here)
    assert len(patches) > 80
    assert {p.by.removeprefix("peerlab_local.") for p in patches} >= {
        "ec2.patches", "ec2.peering_rules", "ec2.route_tables", "ec2.zones", "ec2.consistency", "ec2.iam_propagation",
        "lambda_.runtime", "stepfunctions.lambda_errors", "events.rules", "cloudformation.resources",
        "cloudformation.capabilities", "stepfunctions.timing", "stepfunctions.stop", "events.scheduler",
        "iam.identities", "iam.enforce", "iam.trust"}
    assert _pristine_check(patches) == []


def test_the_check_fails_for_an_attribute_moto_no_longer_has():
    # the test of the test: a wrapped method renamed by an upgrade, a module gone, an added API moto now has
    renamed = Patch("moto.ec2.models", "EC2Backend", "run_instances_renamed_upstream", "wrap", "tests")
    gone = Patch("moto.ec2.no_such_module", "EC2Backend", "run_instances", "replace", "tests")
    now_upstream = Patch("moto.ec2.models", "EC2Backend", "run_instances", "add", "tests")
    still_there = Patch("moto.ec2.models", "EC2Backend", "run_instances", "wrap", "tests")
    problems = _pristine_check([renamed, gone, now_upstream, still_there])
    assert len(problems) == 3, problems
    assert "moto.ec2.models.EC2Backend.run_instances_renamed_upstream" in problems[0]
    assert "no longer has it" in problems[0]
    assert "owner is gone" in problems[1]
    assert "moto has it now" in problems[2]


def test_patching_refuses_what_moto_lacks_at_start_up():
    class Owner:
        def method(self):
            return "moto"

    try:
        patching.wrap(Owner, "methd")(lambda original, self: original(self))
    except patching.MotoChanged as err:
        assert "methd" in str(err)
    else:
        raise AssertionError("wrap of a missing attribute was accepted")


def test_wrap_keeps_classmethods_and_properties_working():
    class Owner:
        @classmethod
        def make(cls, value):
            return (cls.__name__, value)

        @property
        def state(self):
            return "active"

    class Child(Owner):
        pass

    before = len(patching.PATCHES)
    patching.wrap(Owner, "make")(lambda original, cls, value: original(cls, value * 2))
    patching.wrap(Owner, "state")(lambda original, self: "blackhole" if original(self) == "active" else "?")
    assert Child.make(2) == ("Child", 4)
    assert Owner().state == "blackhole"
    assert [p.kind for p in patching.PATCHES[before:]] == ["wrap", "wrap"]
    del patching.PATCHES[before:]


def _moto_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("moto"):
            names |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name.startswith("moto")}
    return names


def test_nothing_patches_moto_but_through_patching():
    # one convention: no `MotoThing.attr = ...`, setattr or __code__ swaps outside patching.py (run on the code
    # before patching.py was the rule, this listed 38 such patches)
    offences = []
    paths = sorted(PACKAGE.rglob("*.py"))
    assert len(paths) > 40  # every module of the package, whatever its depth
    for path in paths:
        if path.name == "patching.py":
            continue
        tree = ast.parse(path.read_text())
        moto = _moto_names(tree)
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
            for target in targets:
                if not isinstance(target, ast.Attribute):
                    continue
                if target.attr == "__code__" or isinstance(target.value, ast.Name) and target.value.id in moto:
                    offences.append(f"{path.name}:{target.lineno} assigns {ast.unparse(target)}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr":
                offences.append(f"{path.name}:{node.lineno} calls setattr")
    assert offences == []
