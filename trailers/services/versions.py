"""Model versions: made by successful runs; staff activate one at a time."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from trailers import selectors_runs
from trailers.errors import ServiceError
from trailers.models import ModelVersion, TrainingRun
from trailers.selectors_runs import compare_with_active, is_worse
from trailers.store import StoreUnavailable, exists

from .queue import enqueue_scoring


def next_version_number() -> int:
    """One more than any version's number ever given, a deleted version's included (its run keeps it)."""
    given = [ModelVersion.objects.aggregate(n=Max("number"))["n"], TrainingRun.objects.aggregate(
        n=Max("version_number"))["n"]]
    return max((n for n in given if n is not None), default=0) + 1


class ActivationError(ServiceError):
    """A model version that cannot serve; the message says why."""

    code = "cannot_activate"


def check_weights(*, model_version: ModelVersion) -> None:
    """Raise ActivationError unless the version's weights file is there to load."""
    try:
        there = exists(model_version.weights.name)
    except StoreUnavailable as exc:
        raise ActivationError(f"{model_version} cannot be checked now: the object store cannot be reached ({exc}). "
                              "Try again in a moment.") from None
    if not there:
        raise ActivationError(f"{model_version} cannot be used: its weights file "
                              f"({model_version.weights.name or 'none'}) is missing.")


def _lock_versions() -> set[int]:
    """Lock every version's row, always in one order, until the transaction ends; returns their ids. Activations,
    rollbacks and deletes then take turns: two activations at once both switched the active one off and collided
    on the one active version (a 500), and an activation of a version being deleted switched the active one off
    and activated nothing, leaving none."""
    return set(ModelVersion.objects.select_for_update().order_by("pk").values_list("pk", flat=True))


def activate_model_version(*, model_version: ModelVersion) -> ModelVersion:
    """Make ``model_version`` the only active one, then score every ready trailer it has not scored."""
    check_weights(model_version=model_version)
    with transaction.atomic():
        if model_version.pk not in _lock_versions():
            raise ActivationError(f"{model_version} was deleted meanwhile: nothing was activated.", code="not_found",
                                  status=404)
        ModelVersion.objects.filter(is_active=True).exclude(pk=model_version.pk).update(is_active=False)
        # It scores every ready trailer it has not yet: the predictions page follows that until it is done.
        ModelVersion.objects.filter(pk=model_version.pk).update(is_active=True, activated_at=timezone.now(),
                                                                scored_at=None)
        transaction.on_commit(lambda: enqueue_scoring(model_version_id=model_version.pk))
    model_version.refresh_from_db()
    return model_version


class WorseThanActive(ActivationError):
    """A person asked to activate a version that did worse than the active one on the same held-out trailers:
    nothing was activated; asking again with ``confirm`` activates it all the same."""

    code = "worse_than_active"
    status = 409

    def __init__(self, version: ModelVersion, comparison: dict):
        # The API's words (the version page and the admin ask again with a form of their own).
        super().__init__(f"Model version {version} is {comparison['reason']}: nothing was activated. Ask again with "
                         "?confirm=true to activate it all the same.")
        self.comparison = comparison

    def details(self) -> dict:
        return {"comparison": self.comparison}


@dataclass(frozen=True)
class Activation:
    """What a person's activation did: ``comparison`` is the fair one with the version that was active (made before
    activating); ``already_active``: the version was the active one, and nothing changed."""

    version: ModelVersion
    comparison: dict
    already_active: bool = False


def activate_chosen(*, model_version: ModelVersion, confirm: bool = False) -> Activation:
    """A person's activation, the same from the version page, the API and the admin: nothing changes for the version
    that is already active (its trailers are scored by the sweep; "score all" scores them again); a version worse
    than the active one on the same held-out trailers is refused (WorseThanActive) unless ``confirm``; any other is
    activated and every ready trailer it has not scored is scored with it."""
    if model_version.is_active:
        return Activation(version=model_version, already_active=True, comparison={
            "active": model_version.number, "trailers": 0, "new_mae": None, "old_mae": None, "decision": "keep",
            "reason": "already the active version"})
    comparison = compare_with_active(model_version)  # before activating: afterwards it is the active one
    if is_worse(comparison) and not confirm:
        raise WorseThanActive(model_version, comparison)
    return Activation(version=activate_model_version(model_version=model_version), comparison=comparison)


def rollback(*, from_version: int | None = None) -> ModelVersion:
    """Make the version that was active before the active one active again (the latest activated of the others),
    and score every ready trailer it has not scored. ActivationError when there is none to go back to, or (409
    ``not_active``) when ``from_version``, the id of the version to roll back from, is not the active one: a rollback
    asked twice (a client's retry) then does not roll back again, to the version it just left."""
    if from_version is not None:
        with transaction.atomic():
            _lock_versions()  # read under the lock, so that no activation slips between this check and the rollback
            active = ModelVersion.objects.filter(is_active=True).first()
            if active is None or active.pk != from_version:
                now = f"{active} (id {active.pk}) is" if active else "no version is"
                raise ActivationError(f"The version with id {from_version} is not the active one ({now}): nothing "
                                      "was rolled back.", code="not_active", status=409)
            return _rollback()
    return _rollback()


def _rollback() -> ModelVersion:
    previous = selectors_runs.previous_version()
    if previous is None:
        raise ActivationError("No version was active before this one: there is nothing to roll back to.",
                              code="nothing_to_roll_back", status=409)
    return activate_model_version(model_version=previous)


def refuse_deleting_active(*, version_ids) -> None:
    """ActivationError (409, ``active_version``) when one of ``version_ids`` is the active version: deleting it would
    delete every prediction the pages show. Another version is activated first (or the active one rolled back)."""
    active = ModelVersion.objects.filter(pk__in=list(version_ids), is_active=True).first()
    if active is not None:
        raise ActivationError(f"Model version {active} is active: deleting it would delete the predictions every page "
                              "shows. Activate another version first (or roll back), then delete it.",
                              code="active_version", status=409)


def delete_model_versions(*, version_ids) -> int:
    """Delete the versions ``version_ids`` (their predictions and weights files go with them); none of them if one
    is the active version (``refuse_deleting_active``). Returns how many were deleted."""
    version_ids = list(version_ids)
    with transaction.atomic():
        _lock_versions()  # an activation at the same moment waits (or this does), so the check still holds
        refuse_deleting_active(version_ids=version_ids)
        deleted = 0
        for version in ModelVersion.objects.filter(pk__in=version_ids):
            version.delete()  # one by one: each one's post_delete removes its weights file after commit
            deleted += 1
    return deleted
