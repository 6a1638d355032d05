"""Ratings: one per user and trailer, 1–10; rating again changes it."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from trailers.models import Rating, Trailer


def parse_rating(score) -> int:
    """The one rule for a rating, for the pages and the API alike: a whole number 1–10, given as a number
    or as its plain ASCII digits. No spaces, signs, decimals, exponents (1e1), booleans or other scripts'
    digits (７); the error says what was wrong."""
    if isinstance(score, int) and not isinstance(score, bool):
        value = score
    elif isinstance(score, str) and score.isascii() and score.isdigit():
        value = int(score)
    else:
        raise ValidationError({"score": f"A rating is a whole number from 1 to 10, not {score!r}."})
    if not 1 <= value <= 10:
        raise ValidationError({"score": f"A rating is a whole number from 1 to 10; {value} is outside that range."})
    return value


def rate_trailer(*, user, trailer: Trailer, score) -> Rating:
    """Create or update ``user``'s rating of ``trailer``; refuse anything :func:`parse_rating` refuses."""
    value = parse_rating(score)
    rating, _ = Rating.objects.update_or_create(user=user, trailer=trailer, defaults={"score": value})
    return rating


def delete_rating(*, user, trailer: Trailer) -> bool:
    deleted, _ = Rating.objects.filter(user=user, trailer=trailer).delete()
    return bool(deleted)
