"""lab-core's modules form no circle and its shared vocabulary uses no step (infra/checks/module_graph.py), and the
reader of the graph finds the circles it is there to find."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra" / "checks"))
import module_graph  # noqa: E402


def test_lab_core_has_no_circle_and_its_vocabulary_uses_no_step() -> None:
    graph = module_graph.read()
    assert module_graph.problems(graph) == []
    # the graph is read at all: the steps use the vocabulary
    assert {"clients", "error", "model"} <= graph["update_sg"]


def crate(tmp_path: Path, files: dict[str, str]) -> Path:
    src = tmp_path / "src"
    for name, text in {"lib.rs": "pub use error::{LabError, Result};\n", **files}.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(textwrap.dedent(text))
    return src


def test_a_circle_through_nested_files_grouped_paths_and_super_is_found(tmp_path: Path) -> None:
    src = crate(
        tmp_path,
        {
            "error.rs": "pub enum LabError {}\n",
            # grouped, nested: `input` and `hop` are used, `model` only as a segment inside `hop::{..}`
            "exercise.rs": "use crate::{input::Plan, hop::{model, Hop}};\n",
            "hop.rs": "pub enum Hop {}\n",
            "input.rs": "pub fn plan() -> crate::Result<()> { Ok(()) }\n",
            "model.rs": "",
            # a submodule climbing to the root: teardown/plan.rs is module `teardown`
            "teardown.rs": "mod plan;\n",
            "teardown/plan.rs": "use super::super::update_sg;\nuse super::Local;\n",
            "update_sg.rs": "use crate::teardown;\n",
        },
    )
    graph = module_graph.read(src)
    assert graph["exercise"] == {"input", "hop"}
    assert graph["input"] == {"error"}  # crate::Result is error's, re-exported at the root
    assert graph["teardown"] == {"update_sg"}
    assert module_graph.circles(graph) == [(["teardown", "update_sg"], ["teardown", "update_sg", "teardown"])]


def test_test_code_comments_and_strings_name_no_module(tmp_path: Path) -> None:
    src = crate(
        tmp_path,
        {
            "error.rs": "",
            "diagnose.rs": """
                //! uses crate::exercise, in words only
                pub fn f() -> &'static str { "crate::exercise" }
                #[cfg(test)]
                mod tests {
                    use crate::exercise::Exercise;
                }
                #[cfg(test)]
                mod more;
            """,
            "diagnose/tests.rs": "use crate::exercise;\n",
            "exercise.rs": "use crate::diagnose::Hop;\n",
        },
    )
    assert module_graph.read(src)["diagnose"] == set()


def test_the_vocabulary_using_a_step_is_named() -> None:
    graph: module_graph.Graph = {name: set() for name in [*module_graph.VOCABULARY, "diagnose"]}
    graph["exercise"] = {"diagnose"}
    assert module_graph.problems(graph) == ["the shared vocabulary uses a step module: exercise -> diagnose"]


def test_a_path_to_no_module_is_an_error_not_a_silent_miss(tmp_path: Path) -> None:
    src = crate(tmp_path, {"error.rs": "", "input.rs": "use crate::nowhere::X;\n"})
    with pytest.raises(ValueError, match="input -> nowhere"):
        module_graph.read(src)
