-- The built-in seed detector as a pipeline of one model, and the default pipeline
-- unless one is already set, so that /api/inf gives real boxes before any import.
-- Importing a definition file with a default pipeline replaces it as the default.
-- (No `test` pipeline: the client would offer it to analysts as a real model; an
-- operator who wants the wiring check imports it.)
WITH builtin_model AS (
    INSERT INTO model (name, type, task, version, data)
    SELECT 'seed-detector-builtin', 'builtin-seed-detector', 'object-detection', '1',
           '{"description": "Finds seeds on a plain bright background by image processing, in process, with no endpoint; labels each box seed.",
             "created_by": "Nachet", "creation_date": "2026-11-28"}'
    WHERE NOT EXISTS (SELECT 1 FROM pipeline WHERE active AND name = 'seed-detector-builtin')
    RETURNING id
), builtin_pipeline AS (
    INSERT INTO pipeline (name, version, is_default, data)
    SELECT 'seed-detector-builtin', '1', NOT EXISTS (SELECT 1 FROM pipeline WHERE is_default),
           '{"description": "Built-in seed detector: boxes every seed, labelled seed; no classifier.",
             "created_by": "Nachet", "creation_date": "2026-11-28"}'
    FROM builtin_model
    RETURNING id
)
INSERT INTO pipeline_model (pipeline_id, model_id, position)
SELECT builtin_pipeline.id, builtin_model.id, 0 FROM builtin_pipeline, builtin_model;
