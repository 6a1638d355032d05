"""Services: every write Reelscore makes. Views, the API, admin actions, tasks and
management commands call these; each is keyword-only and owns its transaction.
"""

from .ingest import IngestError, ingest_trailer
from .preprocess import preprocess_trailer
from .queue import enqueue_preprocessing, enqueue_scoring, enqueue_training, sweep
from .ratings import delete_rating, rate_trailer
from .scoring import score_trailers
from .training import (
    TrainingSetupError,
    cancel_run,
    execute_training_run,
    start_training_run,
)
from .versions import activate_model_version

__all__ = [
    "IngestError",
    "TrainingSetupError",
    "activate_model_version",
    "cancel_run",
    "delete_rating",
    "enqueue_preprocessing",
    "enqueue_scoring",
    "enqueue_training",
    "execute_training_run",
    "ingest_trailer",
    "preprocess_trailer",
    "rate_trailer",
    "score_trailers",
    "start_training_run",
    "sweep",
]
