-- The tables of DATA.md. Folder -> picture -> inference -> object -> seed_obj cascade on delete.

CREATE TABLE users (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email           text NOT NULL,
    registered_at   timestamptz NOT NULL DEFAULT now(),
    default_set_id  uuid
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE picture_set (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    metadata    jsonb NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX picture_set_owner_name_key ON picture_set (owner_id, lower(name));

ALTER TABLE users ADD CONSTRAINT users_default_set_fkey
    FOREIGN KEY (default_set_id) REFERENCES picture_set (id) DEFERRABLE INITIALLY DEFERRED;

CREATE TABLE picture (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    picture_set_id  uuid NOT NULL REFERENCES picture_set (id) ON DELETE CASCADE,
    blob_name       text NOT NULL UNIQUE,
    content_type    text NOT NULL,
    width           integer NOT NULL CHECK (width > 0),
    height          integer NOT NULL CHECK (height > 0),
    sha256          text NOT NULL,
    metadata        jsonb NOT NULL DEFAULT '{}',
    uploaded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX picture_picture_set_idx ON picture (picture_set_id);

CREATE TABLE object_type (
    id    integer PRIMARY KEY,
    name  text NOT NULL UNIQUE
);
INSERT INTO object_type (id, name) VALUES (1, 'seed');

CREATE TABLE seed (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name            text NOT NULL,
    object_type_id  integer NOT NULL DEFAULT 1 REFERENCES object_type (id),
    data            jsonb NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX seed_name_key ON seed (lower(name));

CREATE TABLE picture_seed (
    picture_id  uuid NOT NULL REFERENCES picture (id) ON DELETE CASCADE,
    seed_id     uuid NOT NULL REFERENCES seed (id),
    PRIMARY KEY (picture_id, seed_id)
);

CREATE TABLE model (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name             text NOT NULL,
    type             text NOT NULL,
    task             text NOT NULL,
    endpoint         text,
    api_key_setting  text,
    api_key_encrypted text,  -- a Fernet token, decrypted only at call time
    deployment       text,
    content_type     text,
    version          text NOT NULL,
    data             jsonb NOT NULL DEFAULT '{}',
    active           boolean NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE pipeline (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL,
    version     text NOT NULL,
    is_default  boolean NOT NULL DEFAULT false,
    active      boolean NOT NULL DEFAULT true,
    data        jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX pipeline_one_default ON pipeline ((true)) WHERE is_default;
CREATE UNIQUE INDEX pipeline_active_name_key ON pipeline (name) WHERE active;

CREATE TABLE pipeline_model (
    pipeline_id  uuid NOT NULL REFERENCES pipeline (id) ON DELETE CASCADE,
    model_id     uuid NOT NULL REFERENCES model (id),
    position     integer NOT NULL CHECK (position >= 0),
    PRIMARY KEY (pipeline_id, position)
);

CREATE TABLE inference (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    picture_id        uuid NOT NULL REFERENCES picture (id) ON DELETE CASCADE,
    user_id           uuid NOT NULL REFERENCES users (id),
    pipeline_id       uuid NOT NULL REFERENCES pipeline (id),
    result            jsonb NOT NULL DEFAULT '{}',
    verified          boolean NOT NULL DEFAULT false,
    feedback_user_id  uuid REFERENCES users (id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inference_picture_idx ON inference (picture_id);

-- A box. position keeps the order the model gave; top_id and verified_id point at seed_obj.
CREATE TABLE object (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    inference_id         uuid NOT NULL REFERENCES inference (id) ON DELETE CASCADE,
    position             integer NOT NULL,
    box                  jsonb NOT NULL,
    color                text NOT NULL,
    overlapping          boolean NOT NULL DEFAULT false,
    overlapping_indices  integer[] NOT NULL DEFAULT '{}',
    type_id              integer NOT NULL DEFAULT 1 REFERENCES object_type (id),
    top_id               uuid,
    verified_id          uuid,
    valid                boolean NOT NULL DEFAULT true,
    manual_detection     boolean NOT NULL DEFAULT false,
    comment              text,
    updated_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (inference_id, position)
);

-- One guess for a box (rank orders topN), or a correction (score 0 until verified).
-- label keeps the model's own text: a detector's `seed` is no species and has no seed_id.
CREATE TABLE seed_obj (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    object_id  uuid NOT NULL REFERENCES object (id) ON DELETE CASCADE,
    seed_id    uuid REFERENCES seed (id),
    label      text NOT NULL,
    score      double precision NOT NULL CHECK (score >= 0 AND score <= 1),
    rank       integer NOT NULL
);
CREATE INDEX seed_obj_object_idx ON seed_obj (object_id);

ALTER TABLE object ADD CONSTRAINT object_top_fkey
    FOREIGN KEY (top_id) REFERENCES seed_obj (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE object ADD CONSTRAINT object_verified_fkey
    FOREIGN KEY (verified_id) REFERENCES seed_obj (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED;
