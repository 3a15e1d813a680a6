-- Each imported pipeline definition file, and which one the pipeline and model rows
-- came from: the import command compares content hashes to stay idempotent.
CREATE TABLE pipeline_definition (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    version      text NOT NULL,
    date         text,
    sha256       text NOT NULL,
    source       text NOT NULL,
    imported_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE pipeline ADD COLUMN definition_id uuid REFERENCES pipeline_definition (id);
ALTER TABLE model ADD COLUMN definition_id uuid REFERENCES pipeline_definition (id);

-- A pipeline names its models: among the active ones, a name is one model.
CREATE UNIQUE INDEX model_active_name_key ON model (name) WHERE active;
