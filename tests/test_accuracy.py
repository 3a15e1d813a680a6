"""`manage.py accuracy` and POST /api/model-accuracy: each pipeline measured from the
analysts' corrections of a scripted history (tests/support/history.py), count by count."""

from __future__ import annotations

import base64
import io
import json

import pytest
import requests
from PIL import Image

from tests.conftest import assert_error
from tests.support.feedback import Analyst, ok
from tests.support.history import BUILTIN, REMOTE, make_history
from tests.support.meanwhile import after_each
from tests.support.model_server import box

KEY = "accuracy-key-for-tests"
REMOTE_MODELS = [{"name": "detector", "version": "4"}, {"name": "classifier", "version": "4"}]
REMOTE_4 = {
    "inferences": 4,
    "boxes": {"found": 16, "confirmed": 13, "relabelled": 2, "not_a_seed": 1, "missed": 1},
    "detector": {"precision": 15 / 16, "recall": 15 / 16},
    "classifier": {
        "top_n": 3, "boxes": 15, "top1": 13, "top_n_hits": 14,
        "top1_accuracy": 13 / 15, "top_n_accuracy": 14 / 15,
        "species": [
            {"species": "Ambrosia artemisiifolia", "boxes": 4, "top1": 3, "top_n_hits": 4,
             "top1_accuracy": 0.75, "top_n_accuracy": 1.0},
            {"species": "Ambrosia trifida", "boxes": 3, "top1": 3, "top_n_hits": 3,
             "top1_accuracy": 1.0, "top_n_accuracy": 1.0},
            {"species": "Brassica napus", "boxes": 3, "top1": 3, "top_n_hits": 3,
             "top1_accuracy": 1.0, "top_n_accuracy": 1.0},
            {"species": "Cirsium arvense", "boxes": 4, "top1": 4, "top_n_hits": 4,
             "top1_accuracy": 1.0, "top_n_accuracy": 1.0},
            {"species": "Sinapis arvensis", "boxes": 1, "top1": 0, "top_n_hits": 0,
             "top1_accuracy": 0.0, "top_n_accuracy": 0.0},
        ],
    },
    "confusion": {
        "model": ["Ambrosia artemisiifolia", "Ambrosia trifida", "Brassica napus", "Cirsium arvense",
                  "(missed)"],
        "analyst": ["Ambrosia artemisiifolia", "Ambrosia trifida", "Brassica napus", "Cirsium arvense",
                    "Sinapis arvensis", "(not a seed)"],
        "counts": [[3, 0, 0, 0, 0, 1],
                   [1, 3, 0, 0, 0, 0],
                   [0, 0, 3, 0, 1, 0],
                   [0, 0, 0, 4, 0, 0],
                   [0, 1, 0, 0, 0, 0]],
    },
}
BUILTIN_1 = {
    "inferences": 2,
    "boxes": {"found": 2, "confirmed": 1, "relabelled": 1, "not_a_seed": 0, "missed": 1},
    "detector": {"precision": 1.0, "recall": 2 / 3},
    "classifier": {
        "top_n": 3, "boxes": 1, "top1": 0, "top_n_hits": 0, "top1_accuracy": 0.0, "top_n_accuracy": 0.0,
        "species": [{"species": "Lolium temulentum", "boxes": 1, "top1": 0, "top_n_hits": 0,
                     "top1_accuracy": 0.0, "top_n_accuracy": 0.0}],
    },
    "confusion": {"model": ["seed", "(missed)"], "analyst": ["Lolium temulentum", "seed", "Solanum nigrum"],
                  "counts": [[1, 1, 0], [0, 0, 1]]},
}


@pytest.fixture
def history(app, remote, client, make_client):
    return make_history(app, remote, client, make_client())


def versions(entry: dict) -> list[dict]:
    """The per-version reports without their ids."""
    return [{k: v for k, v in version.items() if k != "pipeline_id"} for version in entry["versions"]]


def test_the_report_counts_the_scripted_history_exactly(app, history, run_command, tmp_path):
    code, out, err = run_command("accuracy", "--top-n", "3", "--json", str(tmp_path / "report.json"),
                                 "--png", str(tmp_path / "png"))
    assert code == 0, err
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["top_n"] == 3 and report["filters"] == {"pipeline": None, "since": None, "until": None}
    remote, builtin = report["pipelines"]
    assert remote["pipeline"] == REMOTE and builtin["pipeline"] == BUILTIN
    assert remote["all_versions"] == REMOTE_4
    assert versions(remote) == [{"version": "4", "models": REMOTE_MODELS, **REMOTE_4}]
    assert builtin["all_versions"] == BUILTIN_1
    builtin_models = [{"name": "seed-detector-builtin", "version": "1"}]
    assert versions(builtin) == [{"version": "1", "models": builtin_models, **BUILTIN_1}]
    pictures = sorted(p.name for p in (tmp_path / "png").iterdir())
    assert pictures == ["remote-4.png", "remote-all.png", "seed-detector-builtin-1.png",
                        "seed-detector-builtin-all.png"]
    matrix = Image.open(tmp_path / "png" / "remote-4.png")
    assert matrix.format == "PNG" and matrix.width > 400 and matrix.height > 250

    # Filters: a pipeline by name, the days the inferences ran on.
    code, out, _ = run_command("accuracy", "--top-n", "3", "--pipeline", BUILTIN)
    assert code == 0 and [e["pipeline"] for e in json.loads(out)["pipelines"]] == [BUILTIN]
    code, out, _ = run_command("accuracy", "--since", "2099-01-01")
    assert code == 0 and json.loads(out)["pipelines"] == []
    code, _, err = run_command("accuracy", "--pipeline", "nope")
    assert code == 1 and "no pipeline named 'nope'" in err
    # The options are checked as the route checks its body, by the same code.
    for args, words in [(["--since", "20240601"], "since must be a day like 2024-06-30"),
                        (["--since", "2024-06-02", "--until", "2024-06-01"], "since must not be after until"),
                        (["--pipeline", "remote \udcff"], "pipeline contains characters"),
                        (["--top-n", "0"], "top_n must be from 1 to 100")]:
        code, _, err = run_command("accuracy", *args)
        assert code == 1 and words in err, err


def test_each_version_is_measured_apart_and_together(app, history, client, run_command):
    # Version 5 of `remote`: new model versions on the same endpoints; version 4 retired.
    app.sql("UPDATE model SET active = false WHERE name IN ('detector', 'classifier')")
    models = [app.sql(
        "INSERT INTO model (name, type, task, endpoint_encrypted, api_key_setting, deployment,"
        " content_type, version) SELECT name, type, task, endpoint_encrypted, api_key_setting,"
        " deployment, content_type, '5' FROM model WHERE name = %s AND version = '4' RETURNING id",
        [name])[0][0] for name in ("detector", "classifier")]
    app.sql("UPDATE pipeline SET active = false, is_default = false WHERE name = 'remote'")
    pipeline = app.sql("INSERT INTO pipeline (name, version, is_default) VALUES ('remote', '5', true)"
                       " RETURNING id")[0][0]
    for position, model in enumerate(models):
        app.sql("INSERT INTO pipeline_model VALUES (%s, %s, %s)", [pipeline, model, position])
    analyst = Analyst(client)
    inference = analyst.infer()
    ok(analyst.positive(inference, [b["box_id"] for b in inference["boxes"]]))

    code, out, err = run_command("accuracy", "--top-n", "3", "--pipeline", REMOTE)
    assert code == 0, err
    [remote] = json.loads(out)["pipelines"]
    four, five = versions(remote)
    assert four == {"version": "4", "models": REMOTE_MODELS, **REMOTE_4}
    assert five["version"] == "5" and five["models"] == [{"name": "detector", "version": "5"},
                                                         {"name": "classifier", "version": "5"}]
    assert (five["inferences"], five["boxes"]) == (1, {"found": 4, "confirmed": 4, "relabelled": 0,
                                                       "not_a_seed": 0, "missed": 0})
    total = remote["all_versions"]
    assert total["inferences"] == 5
    assert total["boxes"] == {"found": 20, "confirmed": 17, "relabelled": 2, "not_a_seed": 1, "missed": 1}
    assert total["detector"] == {"precision": 19 / 20, "recall": 19 / 20}
    assert (total["classifier"]["top1"], total["classifier"]["top_n_hits"]) == (17, 18)
    assert sum(map(sum, total["confusion"]["counts"])) == 21


def test_the_route_needs_the_key_and_draws_the_matrices(app, history, monkeypatch):
    monkeypatch.setenv("NACHET_LOCAL_FUNCTION_KEY", KEY)
    url = f"{app.base_url}/model-accuracy"
    assert_error(requests.post(url, json={}, timeout=30), 401, "function key")
    for body, status, words in [
        ({"top_n": 0}, 400, ["top_n"]), ({"top_n": "3"}, 400, ["top_n"]), ({"png": "yes"}, 400, ["png"]),
        ({"since": "2024-02-02", "until": "2024-02-01"}, 400, ["since"]),
        ({"pipeline": "nope"}, 404, ["no pipeline"]),
    ]:
        r = requests.post(url, json=body, headers={"x-functions-key": KEY}, timeout=30)
        assert_error(r, status, *words)
    r = requests.post(f"{url}?code={KEY}", json={"top_n": 3, "png": True}, timeout=60)
    assert r.status_code == 200, r.text
    remote, builtin = r.json()["pipelines"]
    assert {k: v for k, v in remote["all_versions"].items() if k != "confusion_png"} == REMOTE_4
    for part in (remote["all_versions"], *remote["versions"], builtin["all_versions"],
                 *builtin["versions"]):
        header, _, data = part["confusion_png"].partition(",")
        assert header == "data:image/png;base64"
        assert Image.open(io.BytesIO(base64.b64decode(data))).format == "PNG"


def test_an_inference_verified_during_the_report_is_in_the_next(app, client, monkeypatch):
    """Analysts verify at any time: an inference of a pipeline with none verified yet,
    verified between the report's reads, leaves this report as it was (not a 500) and is
    in the next one."""
    from shared.db.queries import accuracy as queries

    monkeypatch.setenv("NACHET_LOCAL_FUNCTION_KEY", KEY)
    analyst = Analyst(client)
    inference = analyst.infer()  # the built-in pipeline, the default
    verified: list[dict] = []

    def verify_once() -> None:
        if not verified:
            verified.append(ok(analyst.positive(inference, [b["box_id"] for b in inference["boxes"]])))

    after_each(monkeypatch, queries, ["stream_boxes", "pipeline_versions"], verify_once)
    url, key = f"{app.base_url}/model-accuracy", {"x-functions-key": KEY}
    r = requests.post(url, json={}, headers=key, timeout=60)
    assert r.status_code == 200, r.text
    assert verified and r.json()["pipelines"] == []
    [builtin] = requests.post(url, json={}, headers=key, timeout=60).json()["pipelines"]
    assert builtin["pipeline"] == BUILTIN and builtin["all_versions"]["inferences"] == 1


def test_the_matrix_picture_stays_small_whatever_the_catalogue(app, client, remote, monkeypatch):
    """Every label a classifier or an analyst uses joins the matrix: with 120 species the
    JSON holds them all, and the picture draws the 39 with the most boxes and the others
    summed into one row and one column, within a few megapixels."""
    monkeypatch.setenv("NACHET_LOCAL_FUNCTION_KEY", KEY)
    widths = [5 * n for n in range(1, 121)]  # pixels: each box a crop of its own width
    remote.detector(boxes=[box(0, 0.1, width / 638, 0.9) for width in widths])
    remote.classifier(answer=lambda call: [{"label": f"Species {call.image().size[0]:03d}", "score": 0.9}])
    analyst = Analyst(client)
    inference = analyst.infer()
    ok(analyst.positive(inference, [b["box_id"] for b in inference["boxes"]]))
    r = requests.post(f"{app.base_url}/model-accuracy", json={"png": True}, headers={"x-functions-key": KEY},
                      timeout=120)
    assert r.status_code == 200, r.text
    remote_report = r.json()["pipelines"][0]["all_versions"]
    assert len(remote_report["confusion"]["model"]) == len(remote_report["confusion"]["analyst"]) == 120
    png = Image.open(io.BytesIO(base64.b64decode(remote_report["confusion_png"].partition(",")[2])))
    assert png.width * png.height < 2500 * 2500, png.size
