"""POST /api/inf {"model_name"?, "image": data URL, "imageDims": [w, h], "folder_name"?,
"container_name", "user_id", "area_ratio"?, "color_format"?} -> the inference object of
API.md: the picture is run through the pipeline, then stored with its boxes."""

import azure.functions as func

from shared.http import handle, inference
from shared.services.inference import run_inference


def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return handle(req, inference.parse_request, run_inference, context=context)
