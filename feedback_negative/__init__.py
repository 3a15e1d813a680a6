"""POST /api/feedback-negative {"userId", "inferenceId", "boxes": [{"boxId", "label", "classId",
"box": {"topX", "topY", "bottomX", "bottomY"}, "comment"}]} -> the inference object as now
stored: each entry marks a box not a seed, relabels or moves it, or adds a box the model missed."""

import azure.functions as func

from shared.http import feedback, handle
from shared.services.feedback import correct_boxes


def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return handle(req, feedback.parse_negative, correct_boxes, keep_connection=True, context=context)
