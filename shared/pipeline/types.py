"""What models answer, as typed values shared by every adapter and the post-processing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from uuid import UUID

if TYPE_CHECKING:
    from shared.images import DecodedImage


@dataclass(frozen=True)
class Guess:
    """One label a model gives a box, with its score in 0..1."""

    label: str
    score: float


@dataclass(frozen=True)
class FractionBox:
    """A box as fractions 0..1 of the upright image's width and height."""

    top_x: float
    top_y: float
    bottom_x: float
    bottom_y: float


@dataclass(frozen=True)
class Detection:
    """A box found in the picture and its guesses, best first (never empty)."""

    box: FractionBox
    guesses: tuple[Guess, ...]


# The header that tells an Azure ML endpoint which of its deployments to run.
DEPLOYMENT_HEADER = "azureml-model-deployment"


@dataclass(frozen=True)
class ModelSpec:
    """A model of a pipeline as stored (DATA.md `model`): how to call it.

    Neither the endpoint nor the key is held here in clear: `endpoint_encrypted` is a
    Fernet token under NACHET_BLOB_PIPELINE_DECRYPTION_KEY, decrypted at call time; the
    key is named by `api_key_setting` (the app setting that holds it) or is the token
    `api_key_encrypted`.
    """

    id: UUID
    name: str
    type: str  # the adapter: azureml-seed-detector, azureml-classifier, builtin-seed-detector…
    task: str  # object-detection | classification
    version: str
    endpoint_encrypted: str | None = None
    deployment: str | None = None
    content_type: str | None = None
    api_key_setting: str | None = None
    api_key_encrypted: str | None = None
    labels: tuple[str, ...] = ()  # azureml-classifier-filter: the labels it reclassifies
    deployment_header: str = DEPLOYMENT_HEADER  # the header that carries `deployment`


@dataclass(frozen=True)
class PipelineSpec:
    """A pipeline as stored: its models in call order."""

    id: UUID
    name: str
    version: str
    models: tuple[ModelSpec, ...]


class Adapter(Protocol):
    """Calls one model: takes the picture and the detections so far (empty for the
    first model of a pipeline), returns the detections after this model.

    Raises ModelEndpointFailed (502) or ModelEndpointTimeout (504) naming the model.
    """

    def __call__(
        self, model: ModelSpec, picture: DecodedImage, detections: list[Detection]
    ) -> list[Detection]: ...
