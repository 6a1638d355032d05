"""Services: every write Reelscore makes. Views, the API, admin actions, tasks and
management commands call these; each is keyword-only and owns its transaction.
"""

from .embeddings import embed_subclips
from .ingest import IngestError, ingest_trailer, set_reference_score
from .preprocess import preprocess_trailer
from .queue import (
    claim_periodic_job,
    enqueue_preprocessing,
    enqueue_scoring,
    enqueue_training,
    request_preprocessing,
    sweep,
)
from .ratings import delete_rating, delete_ratings, import_ratings, rate_trailer
from .scoring import score_trailers
from .training import (
    TrainingSetupError,
    cancel_run,
    execute_training_run,
    start_training_run,
)
from .versions import ActivationError, activate_model_version, check_weights

__all__ = [
    "ActivationError",
    "IngestError",
    "TrainingSetupError",
    "activate_model_version",
    "cancel_run",
    "check_weights",
    "claim_periodic_job",
    "delete_rating",
    "delete_ratings",
    "embed_subclips",
    "enqueue_preprocessing",
    "enqueue_scoring",
    "enqueue_training",
    "execute_training_run",
    "import_ratings",
    "ingest_trailer",
    "preprocess_trailer",
    "rate_trailer",
    "request_preprocessing",
    "score_trailers",
    "set_reference_score",
    "start_training_run",
    "sweep",
]
