"""Services: every write Reelscore makes. Views, the API, admin actions, tasks and management commands call these.

Every service takes keyword arguments only; the helpers beside them that compute and write nothing
(``too_large_message``, ``parse_rating``, ``distinct_title``...) take positional ones.

Who owns the transaction:

- A change that must be whole (an upload, a rating, ratings imported, a run started or cancelled, a version
  activated, a trailer deleted, trailers queued again) is made in the service's own ``transaction.atomic()``,
  and the work it queues goes to the broker once that commits.
- A change of one row (a rename, a note, a reference score, a rater left out, a periodic job claimed, summaries
  marked stale) is one statement, atomic by itself; ``undo_rating``, ``rollback`` and ``retry_trailer`` are as
  whole as the one service each calls.
- What a worker runs (``preprocess_trailer``, ``embed_subclips``, ``score_trailers``, ``execute_training_run``,
  ``sweep``, ``refresh_prediction_summaries``) lasts minutes or hours, so no transaction spans it: it commits
  step by step (a claim, the results, the status), each step a transaction of its own, and a second delivery
  finds what the first did.
- ``enqueue_*`` hand a message to the broker and mark the row sent; they own no transaction and belong outside
  one: the services call them on commit (``transaction.on_commit``), the sweep and the admin's actions directly.
"""

from .embeddings import embed_subclips
from .ingest import IngestError, ingest_trailer, set_reference_score
from .preprocess import preprocess_trailer
from .queue import (
    claim_periodic_job,
    enqueue_preprocessing,
    enqueue_scoring,
    enqueue_training,
    fail_preprocessing_past_time_limit,
    request_preprocessing,
    sweep,
)
from .ratings import delete_rating, delete_ratings, rate_trailer, save_ratings
from .scoring import score_trailers
from .training import (
    TrainingSetupError,
    cancel_run,
    delete_runs,
    execute_training_run,
    refuse_deleting_runs,
    start_training_run,
)
from .versions import (
    ActivationError,
    WorseThanActive,
    activate_chosen,
    activate_model_version,
    check_weights,
    delete_model_versions,
    refuse_deleting_active,
)

__all__ = [
    "ActivationError",
    "IngestError",
    "TrainingSetupError",
    "WorseThanActive",
    "activate_chosen",
    "activate_model_version",
    "cancel_run",
    "delete_runs",
    "refuse_deleting_runs",
    "check_weights",
    "delete_model_versions",
    "claim_periodic_job",
    "delete_rating",
    "delete_ratings",
    "embed_subclips",
    "enqueue_preprocessing",
    "enqueue_scoring",
    "enqueue_training",
    "execute_training_run",
    "fail_preprocessing_past_time_limit",
    "save_ratings",
    "ingest_trailer",
    "preprocess_trailer",
    "rate_trailer",
    "refuse_deleting_active",
    "request_preprocessing",
    "score_trailers",
    "set_reference_score",
    "start_training_run",
    "sweep",
]
