"""Ratings: one per user and trailer, 1–10; rating again changes it."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from trailers.models import Rating, Trailer


def rate_trailer(*, user, trailer: Trailer, score) -> Rating:
    """Create or update ``user``'s rating of ``trailer``; refuse anything but a whole number 1–10."""
    try:
        value = int(str(score).strip())
    except (TypeError, ValueError):
        raise ValidationError({"score": f"A rating is a whole number from 1 to 10, not {score!r}."}) from None
    if not 1 <= value <= 10:
        raise ValidationError({"score": f"A rating is a whole number from 1 to 10; {value} is outside that range."})
    rating, _ = Rating.objects.update_or_create(user=user, trailer=trailer, defaults={"score": value})
    return rating


def delete_rating(*, user, trailer: Trailer) -> bool:
    deleted, _ = Rating.objects.filter(user=user, trailer=trailer).delete()
    return bool(deleted)
