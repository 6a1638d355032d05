"""Who may do what, one rule for the admin, the pages and the API: Django's model permissions.

Everyone logged in reads and rates. Starting a run needs the permission to add a training run,
cancelling one the permission to change it, activating (or re-scoring with) a model version the
permission to change versions. Superusers have them all; a staff member with view-only admin rights
has none, wherever they ask.
"""

from __future__ import annotations

START_RUN = "trailers.add_trainingrun"
CANCEL_RUN = "trailers.change_trainingrun"
ACTIVATE_VERSION = "trailers.change_modelversion"

REFUSALS = {
    START_RUN: "You need the permission to add training runs to start one.",
    CANCEL_RUN: "You need the permission to change training runs to cancel one.",
    ACTIVATE_VERSION: "You need the permission to change model versions to activate one.",
}


def can(user, permission: str) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.has_perm(permission))
