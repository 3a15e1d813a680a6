"""POST /api/export-dataset (operators: a function key, no user) {"format": "coco" | "azureml",
"since", "until", "species", "pipeline", "validation_fraction", "split_seed",
"image_url_prefix", "name"} -> {"container", "blob", "size_bytes", "url", "url_expires",
"name", "format", "pictures", "boxes", "image_labels", "train", "validation", "skipped"}:
the verified data as one ZIP in the exports container (README, Datasets)."""

import azure.functions as func

from shared.http import export, handle
from shared.services.export import export_to_blob


def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return handle(req, export.blob_export, export_to_blob, identify=False, context=context)
