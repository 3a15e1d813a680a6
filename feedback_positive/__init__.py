"""POST /api/feedback-positive {"userId", "inferenceId", "boxes": [{"boxId"}]} -> the inference
object as now stored: each named box is verified with its top guess."""

import azure.functions as func

from shared.http import feedback, handle
from shared.services.feedback import confirm_boxes


def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return handle(req, feedback.parse_positive, confirm_boxes, keep_connection=True, context=context)
