"""`manage.py classify PATH… [--pipeline NAME] [--out DIR]`: local pictures through the same
code as /api/inf, storing nothing; a table of species per picture and in total, a CSV of
every box, an annotated picture for each input; pictures side by side within the model
endpoints' limit."""

from __future__ import annotations

import csv
import shutil

from PIL import Image

from shared import settings
from tests.support.feedback import ok
from tests.support.inference import nothing_stored
from tests.support.synthetic_seeds import SAMPLE_PATH, SAMPLE_SEED_BOX

CSV_EDGES = ("top_x", "top_y", "bottom_x", "bottom_y")
EDGES = ("topX", "topY", "bottomX", "bottomY")


def rows(folder) -> list[dict[str, str]]:
    with (folder / "boxes.csv").open(newline="") as table:
        return list(csv.DictReader(table))


def test_the_sample_gives_one_seed_one_annotated_picture_and_one_row(app, run_command, tmp_path):
    catalogue = app.sql("SELECT id, name FROM seed ORDER BY id")
    out = tmp_path / "out"
    code, printed, err = run_command("classify", str(SAMPLE_PATH), "--out", str(out))
    assert code == 0, err
    # The built-in detector is the default pipeline: one box, labelled seed.
    [row] = rows(out)
    assert (row["picture"], row["box"], row["label"]) == (str(SAMPLE_PATH), "1", "seed")
    assert row["overlapping"] == "False"
    edges = [int(row[k]) for k in CSV_EDGES]
    assert all(abs(a - b) <= 6 for a, b in zip(edges, SAMPLE_SEED_BOX, strict=True)), edges
    assert 0 < float(row["score"]) <= 1 and row["guesses"] == f"seed {row['score']}"
    assert sorted(p.name for p in out.iterdir()) == ["boxes.csv", "one-seed-white-background.annotated.png"]
    drawn = Image.open(out / "one-seed-white-background.annotated.png").convert("RGB")
    original = Image.open(SAMPLE_PATH).convert("RGB")
    assert drawn.size == original.size
    column = range(edges[1] + 40, edges[3] - 5)
    changed = [y for y in column if max(abs(a - b) for a, b in zip(
        drawn.getpixel((edges[0], y)), original.getpixel((edges[0], y)), strict=True)) > 60]
    assert 0.35 < len(changed) / len(column) < 0.8  # one dashed outline, the model's
    assert drawn.getpixel((600, 500)) == original.getpixel((600, 500))
    lines = printed.splitlines()
    assert lines[0] == "pipeline seed-detector-builtin"
    assert lines[2].split() == [str(SAMPLE_PATH), "1", "seed", "1"]
    assert lines[3].split() == ["total:", "1", "picture(s)", "1", "seed", "1"]
    nothing_stored(app)
    assert app.sql("SELECT id, name FROM seed ORDER BY id") == catalogue


def test_the_boxes_are_those_that_inf_answers(app, analyst, run_command, tmp_path):
    # The remote pipeline's classifier names a species new to the catalogue (Carex nova):
    # classify leaves the catalogue as it is, /inf adds it.
    code, _, err = run_command("classify", str(SAMPLE_PATH), "--out", str(tmp_path))
    assert code == 0, err
    nothing_stored(app)
    assert app.sql("SELECT count(*) FROM seed WHERE name = 'Carex nova'") == [(0,)]
    answer = analyst.infer()
    classified = [(r["label"], float(r["score"]), [int(r[k]) for k in CSV_EDGES],
                   r["overlapping"] == "True", r["guesses"]) for r in rows(tmp_path)]
    assert classified == [(b["label"], b["score"], [b["box"][k] for k in EDGES], b["overlapping"],
                           "; ".join(f"{g['label']} {g['score']:.4f}" for g in b["topN"]))
                          for b in answer["boxes"]]
    assert [r["label"] for r in rows(tmp_path)] == ["Ambrosia trifida"] * 3


def test_a_folder_runs_side_by_side_within_the_endpoints_limit(app, remote, run_command, tmp_path,
                                                               monkeypatch):
    monkeypatch.setenv("NACHET_MODEL_MAX_IN_FLIGHT", "2")
    settings.reset()
    remote.detector(boxes=[{"box": {"topX": x, "topY": 0.1, "bottomX": x + 0.1, "bottomY": 0.3},
                            "label": "seed", "score": 0.9} for x in (0.1, 0.4, 0.7)])
    remote.classifier(answer=lambda call: [{"label": "Bromus secalinus", "score": 0.8}], delay_s=0.2)
    pictures = tmp_path / "pictures"
    (pictures / "inner").mkdir(parents=True)
    for name in ("a.png", "b.png", "inner/a.png", "inner/c.png"):
        shutil.copy(SAMPLE_PATH, pictures / name)
    (pictures / "notes.txt").write_text("not a picture, and not named as one: left alone")
    (pictures / "broken.png").write_bytes(b"not a picture, though named as one")
    out = tmp_path / "out"
    code, printed, _ = run_command("classify", str(pictures), "--pipeline", "remote", "--out", str(out))
    assert code == 1  # one picture failed; the others are done
    assert remote.max_in_flight("classifier") == 2 and len(remote.calls("classifier")) == 12
    assert len(rows(out)) == 12 and {r["label"] for r in rows(out)} == {"Bromus secalinus"}
    assert sorted(p.name for p in out.iterdir()) == [
        "a-2.annotated.png", "a.annotated.png", "b.annotated.png", "boxes.csv", "c.annotated.png"]
    assert f"{pictures / 'broken.png'}" in printed and "error: the file is not a supported image" in printed
    assert printed.splitlines()[-2].split() == ["total:", "4", "picture(s),", "1", "failed", "12",
                                                "Bromus", "secalinus", "12"]
    nothing_stored(app)


def test_bad_arguments(app, run_command, tmp_path):
    code, _, err = run_command("classify", str(tmp_path / "nowhere.png"))
    assert code == 1 and "no such file or folder" in err
    code, _, err = run_command("classify", str(tmp_path))
    assert code == 1 and "no picture found" in err
    code, _, err = run_command("classify", str(SAMPLE_PATH), "--pipeline", "nope",
                               "--out", str(tmp_path / "o"))
    assert code == 1 and "no pipeline named 'nope'" in err
    assert not (tmp_path / "o").exists()


def test_inf_still_stores_what_it_answers(analyst, app):
    # The steps classify shares with /inf (shared/services/inference.py) still store.
    answer = analyst.infer()
    picture = ok(analyst.client.post("get-picture", {"container_name": analyst.id,
                                                     "picture_id": answer["picture_id"]}))
    assert picture["inference"] == answer
    assert app.sql("SELECT count(*) FROM seed WHERE name = 'Carex nova'") == [(1,)]
