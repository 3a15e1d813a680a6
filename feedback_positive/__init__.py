"""POST /api/feedback-positive {"userId", "inferenceId", "boxes": [{"boxId"}]} -> the inference
object as now stored: each named box is verified with its top guess."""

import azure.functions as func

from shared.http import handle
from shared.services.feedback import confirm_boxes, parse_positive


def main(req: func.HttpRequest) -> func.HttpResponse:
    return handle(req, lambda r: confirm_boxes(parse_positive(r)))
