"""GET /api/seeds, /api/seed-data/{seed_name} and /api/model-endpoints-metadata."""

from __future__ import annotations

from tests.conftest import Client, assert_error

CATALOGUE = [
    "Ambrosia artemisiifolia", "Ambrosia psilostachya", "Ambrosia trifida", "Brassica juncea",
    "Brassica napus", "Bromus hordeaceus", "Bromus japonicus", "Bromus secalinus", "Carduus nutans",
    "Cirsium arvense", "Cirsium vulgare", "Lolium temulentum", "Solanum carolinense", "Solanum nigrum",
    "Solanum rostratum",
]


def test_seeds_lists_the_catalogue_sorted(client):
    r = client.get("seeds")
    assert r.status_code == 200
    seeds = r.json()["seeds"]
    assert [s["seed_name"] for s in seeds] == CATALOGUE
    assert all(set(s) == {"seed_id", "seed_name"} for s in seeds)
    assert len({s["seed_id"] for s in seeds}) == 15


def test_seeds_needs_an_identity(app):
    assert_error(Client(app.base_url, None).get("seeds"), 401)


def test_seed_data_by_name_any_case(client):
    seeds = {s["seed_name"]: s["seed_id"] for s in client.get("seeds").json()["seeds"]}
    r = client.get("seed-data/ambrosia%20TRIFIDA")
    assert r.status_code == 200
    record = r.json()
    assert record["seed_name"] == "Ambrosia trifida"
    assert record["seed_id"] == seeds["Ambrosia trifida"]


def test_seed_data_unknown_is_404(client):
    assert_error(client.get("seed-data/Quercus%20robur"), 404, "Quercus robur")


def test_seed_data_shows_stored_record(app, client):
    app.sql("""UPDATE seed SET data = '{"family": "Asteraceae", "seed_name": "forged"}'
               WHERE name = 'Ambrosia trifida'""")
    record = client.get("seed-data/Ambrosia%20trifida").json()
    assert record["family"] == "Asteraceae"
    assert record["seed_name"] == "Ambrosia trifida"


def test_metadata_lists_active_pipelines_without_endpoints_or_keys(app, client):
    app.sql("""INSERT INTO model (name, type, task, endpoint_encrypted, api_key_setting, version)
               VALUES ('det-1', 'azureml-seed-detector', 'object-detection', 'https://secret.example/score',
                       'NACHET_KEY_DET', '1'),
                      ('cls-1', 'azureml-classifier', 'classification', 'https://secret.example/cls',
                       'NACHET_KEY_CLS', '1')""")
    app.sql("UPDATE pipeline SET is_default = false")
    app.sql("""INSERT INTO pipeline (name, version, is_default, data) VALUES
               ('det-cls', '2', true, '{"description": "two models", "created_by": "ops",
                                        "creation_date": "2024-08-01"}'),
               ('old', '1', false, '{}')""")
    app.sql("UPDATE pipeline SET active = false WHERE name = 'old'")
    app.sql("""INSERT INTO pipeline_model (pipeline_id, model_id, position)
               SELECT p.id, m.id, CASE m.name WHEN 'det-1' THEN 0 ELSE 1 END
               FROM pipeline p, model m WHERE p.name = 'det-cls' AND m.name IN ('det-1', 'cls-1')""")
    r = client.get("model-endpoints-metadata")
    assert r.status_code == 200
    pipelines = r.json()
    assert isinstance(pipelines, list)
    first = pipelines[0]
    assert first["pipeline_name"] == first["model_name"] == "det-cls"
    assert first["default"] is True
    assert first["models"] == ["det-1", "cls-1"]
    assert first["version"] == "2"
    assert (first["description"], first["created_by"], first["creation_date"]) == (
        "two models", "ops", "2024-08-01")
    assert "old" not in [p["pipeline_name"] for p in pipelines]
    assert "secret" not in r.text and "NACHET_KEY" not in r.text
