"""POST /api/model-accuracy (operators: a function key, no user) {"pipeline", "since", "until",
"top_n", "png"} -> {"top_n", "filters", "pipelines": [{"pipeline", "all_versions",
"versions"}]}: each pipeline's measures from the analysts' corrections (README, Model
accuracy); with "png": true each confusion matrix also as a PNG data URL."""

import azure.functions as func

from shared.http import accuracy, handle
from shared.services.accuracy import model_accuracy


def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return handle(req, accuracy.accuracy_request, model_accuracy, identify=False, context=context)
