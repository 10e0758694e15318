"""The answering contract: settings checked when built, answerers and stages found by module,
each step recorded in the trace, and the pipeline closable."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from rag.answering import load_answerers, load_stages, run_stages
from rag.errors import ConfigError
from rag.pipeline import Pipeline, build_pipeline
from rag.settings import Settings


@pytest.mark.parametrize(
    ("field", "value"),
    [("k", 0), ("candidates", -1), ("abstain_threshold", 1.5), ("fusion", "max"), ("ui_port", 70000)],
)
def test_settings_are_checked_when_built(field: str, value: object) -> None:
    with pytest.raises(ConfigError) as err:
        Settings(**{field: value})  # type: ignore[arg-type]
    assert field in str(err.value) and str(value) in str(err.value)
    with pytest.raises(ConfigError):
        Settings().replace(**{field: value})


def test_modes_come_from_the_answerer_registry() -> None:
    assert list(load_answerers(Settings())) == ["extractive"]
    with_llm = Settings(llm_backend="openai", llm_base_url="http://127.0.0.1:9", llm_model="m")
    assert list(load_answerers(with_llm)) == ["extractive", "llm"]


def test_a_stage_is_one_new_file(
    seed_pipeline: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = tmp_path / "extra_stages"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "shout.py").write_text(
        textwrap.dedent(
            """
            import dataclasses

            class Shout:
                name = "shout"
                order = 1

                def applies(self, ctx, answer):
                    return not answer.abstained

                def apply(self, ctx, answer):
                    return dataclasses.replace(answer, lead=f"Kind: {ctx.plan.kind}.")

            STAGE = Shout()
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    stages = load_stages(Settings(), "extra_stages")
    assert [s.name for s in stages] == ["shout"]
    monkeypatch.setattr(seed_pipeline, "stages", [*seed_pipeline.stages, *stages])
    a = seed_pipeline.ask("How many drones were shot down over Kharkiv?")
    assert a.text.startswith("Kind: factoid.") and a.lead == "Kind: factoid."
    steps = [s["step"] for s in a.trace.steps]
    assert steps[0] == "extractive" and steps[-1] == "shout"
    shout = a.trace.steps[-1]
    assert shout["changed"] == ["lead"] and shout["ms"] >= 0
    sys.modules.pop("extra_stages.shout", None)


def test_run_stages_skips_stages_that_do_not_apply(seed_pipeline: Pipeline) -> None:
    a = seed_pipeline.ask("What is the name of the mayor of Vovchansk?")
    assert a.abstained
    assert all(s["step"] != "shout" for s in a.trace.steps)
    assert run_stages([], None, a) == a  # type: ignore[arg-type]


def test_unknown_mode_and_bad_k_are_refused_with_the_choices(seed_pipeline: Pipeline) -> None:
    with pytest.raises(ConfigError, match="extractive"):
        seed_pipeline.ask("Who is Viktor Trehubov?", mode="gpt")
    with pytest.raises(ConfigError, match="k must be greater than 0, got -1"):
        seed_pipeline.ask("Who is Viktor Trehubov?", k=-1)


def test_trace_holds_the_plan_and_each_step(seed_pipeline: Pipeline) -> None:
    a = seed_pipeline.ask("What is the latest on Kupiansk?")
    js = a.to_json()
    assert js["trace"]["plan"]["kind"] == "latest" and js["trace"]["plan"]["question"] == a.trace.question
    assert js["trace"]["steps"][0]["step"] == "extractive"
    assert "conflicts" in js and isinstance(js["conflicts"], list)


def test_pipeline_close_is_idempotent(seed_settings: Settings) -> None:
    with build_pipeline(seed_settings) as p:
        assert p.modes() == ["extractive"]
    p.close()
    with pytest.raises(Exception):  # noqa: B017 - the closed SQLite connection refuses work
        p.articles()
