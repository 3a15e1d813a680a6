"""The bodies of new-batch-import and upload-picture, as services.batch takes them."""

from __future__ import annotations

from shared.errors import BadRequest
from shared.http.request import Request, decode_data_url
from shared.services.batch import NewBatch, Upload
from shared.services.catalogue import clean_label

SEED_NAME_MAX = 200


def new_batch(request: Request) -> NewBatch:
    """The session to create: a folder named `folder_name`, or after its id when that is
    "" or absent. Raises BadRequest (nb_pictures below 1), Unauthorized, Forbidden, NotFound."""
    user_id = request.user_id("container_name", "user_id")
    nb_pictures = request.body.integer("nb_pictures", minimum=1)
    # As sent: the folder name rules (services.folders) report what is wrong with it.
    folder_name = request.body.raw("folder_name", required=False)
    if folder_name is not None and not isinstance(folder_name, str):
        raise BadRequest("folder_name must be a string")
    return NewBatch(user_id, nb_pictures, folder_name or None)


def upload(request: Request) -> Upload:
    """The picture to store. Raises BadRequest (no seed named, bad data URL, negative
    nb_seeds or zoom_level), PayloadTooLarge, Unauthorized, Forbidden, NotFound."""
    user_id = request.user_id("container_name", "user_id")
    body = request.body
    session_id = body.id("session_id")
    # The web client sends "seed_id": "" when it names the seed by seed_name.
    seed_id = body.id("seed_id") if body.text("seed_id", required=False) else None
    seed_text = body.text("seed_name", required=False)
    image = body.raw("image")
    zoom_level = body.number("zoom_level", required=False)
    nb_seeds = body.integer("nb_seeds", required=False)
    seed_name = _seed_name(seed_text)
    if seed_id is None and seed_name is None:
        raise BadRequest("seed_id or seed_name is missing")
    if zoom_level is not None and zoom_level <= 0:
        raise BadRequest("zoom_level must be greater than 0")
    if nb_seeds is not None and nb_seeds < 0:
        raise BadRequest("nb_seeds must be at least 0")
    return Upload(user_id, session_id, seed_id, seed_name, decode_data_url(image).data, zoom_level, nb_seeds)


def _seed_name(value: str | None) -> str | None:
    """`value` cleaned as a feedback label is, so that both name a new seed alike."""
    if value is None:
        return None
    value = clean_label(value)
    if len(value) > SEED_NAME_MAX:
        raise BadRequest(f"seed_name is longer than {SEED_NAME_MAX} characters")
    return value or None
