"""Who may do what, one rule for the admin, the pages and the API: Django's model permissions.

Everyone logged in reads and rates. Starting a run needs the permission to add a training run,
cancelling one the permission to change it, activating (or re-scoring with) a model version the
permission to change versions. Superusers have them all; a staff member with view-only admin rights
has none, wherever they ask.
"""

from __future__ import annotations

START_RUN = "trailers.add_trainingrun"
# The raters page and the ratings CSV need Django's "view rating"; leaving a rater out of the labels,
# "change rating"; importing ratings, "add rating". A trailer's uploader may rename, retry or delete it;
# anyone else needs "change trailer" (rename, retry) or "delete trailer".
VIEW_RATERS = "trailers.view_rating"
MANAGE_RATERS = "trailers.change_rating"
IMPORT_RATINGS = "trailers.add_rating"
CHANGE_TRAILER = "trailers.change_trailer"
DELETE_TRAILER = "trailers.delete_trailer"
CANCEL_RUN = "trailers.change_trainingrun"
DELETE_RUN = "trailers.delete_trainingrun"
ACTIVATE_VERSION = "trailers.change_modelversion"

REFUSALS = {
    START_RUN: "You need the permission to add training runs to start one.",
    CANCEL_RUN: "You need the permission to change training runs to cancel or note one.",
    DELETE_RUN: "You need the permission to delete training runs to delete one.",
    ACTIVATE_VERSION: "You need the permission to change model versions to activate, roll back or re-score one.",
    VIEW_RATERS: "You need the permission to view ratings to see the raters.",
    MANAGE_RATERS: "You need the permission to change ratings to leave a rater out of the labels.",
    IMPORT_RATINGS: "You need the permission to add ratings to import them.",
    CHANGE_TRAILER: "Only the person who uploaded this trailer, or staff allowed to change trailers, may change it.",
    DELETE_TRAILER: "Only the person who uploaded this trailer, or staff allowed to delete trailers, may delete it.",
}


def can(user, permission: str) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.has_perm(permission))


def can_change_trailer(user, trailer, permission: str = CHANGE_TRAILER) -> bool:
    """Whether ``user`` may rename or retry ``trailer`` (``permission`` DELETE_TRAILER: delete it): its uploader
    may, and so may anyone with the model permission."""
    if not (user and user.is_authenticated and user.is_active):
        return False
    return trailer.uploaded_by_id == user.pk or user.has_perm(permission)
