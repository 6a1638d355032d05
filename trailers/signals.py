"""Stored files follow their rows: deleting a row removes its files once the transaction commits. And counters
follow theirs: an account's ratings leave their trailers' counters with it; a trailer's leave the kept figures.
And an account's API token goes with its password: a new password, however it was set, revokes it."""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models.signals import post_delete, pre_delete, pre_save
from django.dispatch import receiver

from .models import ModelVersion, Subclip, Trailer, TrainingRun
from .store import StoreUnavailable, unavailable_as_error

log = logging.getLogger(__name__)


def delete_stored(storage, name: str) -> None:
    """Delete a stored file, then the folders it leaves empty (up to the storage root).

    A name ending in ``/`` is a folder (a cross-validated run's checkpoints): every file in it goes,
    then the folder itself (even if it held nothing). An object store that cannot be reached leaves the
    files behind (logged): nothing points at them any more, and a failed clean-up must not fail the work.
    """
    try:
        with unavailable_as_error():
            _delete_stored(storage, name)
    except (StoreUnavailable, FileNotFoundError) as exc:
        log.warning("%s was not deleted from the store (%s); nothing points at it any more", name, exc)


def _delete_stored(storage, name: str) -> None:
    if name.endswith("/"):
        try:
            folders, files = storage.listdir(name)
        except (FileNotFoundError, NotADirectoryError):
            return
        for sub in folders:
            _delete_stored(storage, f"{name}{sub}/")
        for file in files:
            _delete_stored(storage, f"{name}{file}")
        _remove_empty_folders(storage, name.rstrip("/"))
        return
    storage.delete(name)
    _remove_empty_folders(storage, name.rsplit("/", 1)[0] if "/" in name else "")


def _remove_empty_folders(storage, folder_name: str) -> None:
    """Remove ``folder_name`` and its parents while they are empty, up to the storage root."""
    try:
        root = Path(storage.path("")).resolve()
        folder = Path(storage.path(folder_name)).resolve()
    except NotImplementedError:
        return  # object stores have no folders
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return  # not empty, or already gone
        folder = folder.parent


def delete_after_commit(storage, *names: str) -> None:
    """Delete these stored files (and the folders they leave empty) once the transaction commits."""
    for name in names:
        if name:
            transaction.on_commit(lambda name=name: delete_stored(storage, name))


def _delete_after_commit(*fields) -> None:
    for field in fields:
        if field:
            delete_after_commit(field.storage, field.name)


@receiver(post_delete, sender=Trailer)
def delete_trailer_file(sender, instance: Trailer, **kwargs) -> None:
    _delete_after_commit(instance.file, instance.browser_copy)


@receiver(post_delete, sender=Subclip)
def delete_subclip_files(sender, instance: Subclip, **kwargs) -> None:
    _delete_after_commit(instance.frames, instance.contact_sheet, instance.embeddings)


@receiver(post_delete, sender=ModelVersion)
def delete_model_weights(sender, instance: ModelVersion, **kwargs) -> None:
    _delete_after_commit(instance.weights)


@receiver(post_delete, sender=TrainingRun)
def delete_run_checkpoint(sender, instance: TrainingRun, **kwargs) -> None:
    delete_after_commit(default_storage, instance.checkpoint)


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL)
def forget_ratings_of_deleted_account(sender, instance, **kwargs) -> None:
    # Inside the deletion's transaction, before the ratings would go by cascade without touching the counters.
    from .services.ratings import forget_ratings_of  # here: services import this module (a cycle)

    forget_ratings_of(user=instance)


@receiver(post_delete, sender=Trailer)
def trailer_gone_from_figures(sender, instance: Trailer, **kwargs) -> None:
    from .services.summaries import mark_summaries_stale  # here: services import this module (a cycle)

    mark_summaries_stale()


@receiver(pre_save, sender=settings.AUTH_USER_MODEL)
def revoke_token_with_old_password(sender, instance, **kwargs) -> None:
    # A password changed (the password page, a reset link, the admin) logs the account's other sessions out; its
    # API token, which would outlive it, goes too. set_password() keeps the new raw password in _password until the
    # save: a hash merely upgraded at login (another hasher, more iterations after a Django upgrade) sets none.
    if instance.pk is None or getattr(instance, "_password", None) is None:
        return
    from rest_framework.authtoken.models import Token

    Token.objects.filter(user_id=instance.pk).delete()
