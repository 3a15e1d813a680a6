"""POST /api/upload-picture {"container_name", "user_id", "session_id", "seed_id" or "seed_name",
"image": data URL, "zoom_level": number (optional), "nb_seeds": int (optional)} -> [true]: the
picture is stored in the session's folder, validated as that seed; the same bytes twice store one."""

import azure.functions as func

from shared.http import Request, handle
from shared.services.batch import upload_picture


def main(req: func.HttpRequest) -> func.HttpResponse:
    return handle(req, _upload_picture)


def _upload_picture(r: Request) -> list[bool]:
    return upload_picture(
        r.user_id("container_name", "user_id"),
        session_id=r.body.id("session_id"),
        # The web client sends "seed_id": "" when it names the seed by seed_name.
        seed_id=r.body.id("seed_id") if r.body.text("seed_id", required=False) else None,
        seed_name=r.body.text("seed_name", required=False),
        image=r.body.raw("image"),
        zoom_level=r.body.number("zoom_level", required=False),
        nb_seeds=r.body.integer("nb_seeds", required=False),
    )
