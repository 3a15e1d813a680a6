"""shared.pipeline.runner: models in call order, detections flowing, where labels come from."""

from __future__ import annotations

import uuid

import pytest

from shared.errors import ModelEndpointFailed, ModelEndpointTimeout
from shared.pipeline import runner
from shared.pipeline.types import Detection, FractionBox, Guess, ModelSpec, PipelineSpec

SEED = (Guess("seed", 0.9),)


def model(name: str, kind: str, task: str = "classification") -> ModelSpec:
    return ModelSpec(id=uuid.uuid4(), name=name, type=kind, task=task, version="3")


def pipeline(*models: ModelSpec) -> PipelineSpec:
    return PipelineSpec(id=uuid.uuid4(), name="p", version="1", models=models)


def detector(spec, picture, detections):
    return [Detection(FractionBox(0, 0, 0.5, 0.5), SEED), Detection(FractionBox(0.5, 0.5, 1, 1), SEED)]


def first_box_classifier(spec, picture, detections):
    # Like azureml-classifier-filter: relabels some boxes, passes the others on as they are.
    return [Detection(detections[0].box, (Guess("Ambrosia trifida", 0.8),)), *detections[1:]]


@pytest.fixture
def adapters(monkeypatch):
    table = {"detector": detector, "filter": first_box_classifier}
    monkeypatch.setattr(runner, "get_adapter", lambda kind: table[kind])
    return table


def test_models_run_in_order_on_the_detections_before(adapters):
    calls = []

    def spy(spec, picture, detections):
        calls.append((spec.name, len(detections)))
        return detections

    adapters["spy"] = spy
    run = runner.run_pipeline(pipeline(model("a", "spy"), model("d", "detector", "object-detection"),
                                       model("b", "spy")), picture=None)
    assert calls == [("a", 0), ("b", 2)]
    assert run.models == ({"name": "a", "version": "3"}, {"name": "d", "version": "3"},
                          {"name": "b", "version": "3"})


def test_labels_remember_whether_a_classifier_gave_them(adapters):
    run = runner.run_pipeline(pipeline(model("d", "detector", "object-detection"), model("c", "filter")),
                              picture=None)
    assert [d.guesses[0].label for d in run.detections] == ["Ambrosia trifida", "seed"]
    assert run.classified == (True, False)


def test_a_detector_alone_classifies_nothing(adapters):
    run = runner.run_pipeline(pipeline(model("d", "detector", "object-detection")), picture=None)
    assert run.classified == (False, False)


@pytest.mark.parametrize("error", [ModelEndpointFailed("model c failed"), ModelEndpointTimeout("model c")])
def test_a_failing_model_fails_the_run(adapters, error):
    def fail(spec, picture, detections):
        raise error

    adapters["fail"] = fail
    with pytest.raises(type(error)):
        runner.run_pipeline(pipeline(model("d", "detector", "object-detection"), model("c", "fail")),
                            picture=None)


def test_unknown_model_type_is_a_failed_model():
    with pytest.raises(ModelEndpointFailed, match="mystery"):
        runner.run_pipeline(pipeline(model("mystery", "no-such-type")), picture=None)


def test_a_box_without_a_label_is_a_failed_model(adapters):
    adapters["blank"] = lambda spec, picture, detections: [Detection(FractionBox(0, 0, 1, 1), ())]
    with pytest.raises(ModelEndpointFailed, match="blank"):
        runner.run_pipeline(pipeline(model("blank", "blank")), picture=None)
