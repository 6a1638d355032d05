"""The ratings and raters services called directly: a rating made, changed, taken back and removed, a bulk import,
raters left out of the labels, and the ratings CSV read back with a report of what it refused; a file that is no
ratings CSV is a RatingsImportError (a ServiceError) with its code."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from trailers.errors import ServiceError
from trailers.models import ExcludedRater, Rating, Trailer
from trailers.services import delete_rating, rate_trailer, save_ratings
from trailers.services.raters import RatingsImportError, set_rater_excluded, undo_rating
from trailers.services.raters import import_ratings as import_ratings_csv
from trailers.services.training import labelled_trailers

pytestmark = pytest.mark.django_db


def counters(trailer: Trailer) -> tuple:
    trailer.refresh_from_db()
    return trailer.rating_count, trailer.rating_sum, trailer.mean_rating


def test_rating_again_changes_the_one_rating_and_removing_it_says_whether_there_was_one(user, make_trailer):
    trailer = make_trailer()
    first = rate_trailer(user=user, trailer=trailer, score="7")
    again = rate_trailer(user=user, trailer=trailer, score=4)
    assert again.pk == first.pk and Rating.objects.get().score == 4
    assert counters(trailer) == (1, 4, 4.0)
    assert delete_rating(user=user, trailer=trailer) is True
    assert delete_rating(user=user, trailer=trailer) is False
    assert counters(trailer) == (0, 0, None)


def test_the_same_score_given_again_leaves_every_version_s_figures_fresh(user, make_trailer, make_version):
    """A double click, or the same key pressed again on rate next, changes no mean: the sweep has nothing to make
    again (it reads every prediction of every version to do it)."""
    from trailers.models import PredictionSummary

    trailer, version = make_trailer(), make_version(number=1)
    rate_trailer(user=user, trailer=trailer, score=7)
    PredictionSummary.objects.create(model_version=version, stale=False)
    rate_trailer(user=user, trailer=trailer, score=7)
    assert not PredictionSummary.objects.get().stale and counters(trailer) == (1, 7, 7.0)
    rate_trailer(user=user, trailer=trailer, score=8)
    assert PredictionSummary.objects.get().stale


@pytest.mark.parametrize(("score", "words"), [
    (0, "0 is outside that range"), (11, "11 is outside that range"), ("7.5", "not '7.5'"), (True, "not True"),
    ("７", "not '７'"), (" 7", "not ' 7'"), (None, "from 1 to 10: none was given"),
    ("", "from 1 to 10: none was given"),
])
def test_a_rating_that_is_no_whole_number_from_1_to_10_is_refused_on_its_field(user, make_trailer, score, words):
    trailer = make_trailer()
    with pytest.raises(ValidationError) as caught:
        rate_trailer(user=user, trailer=trailer, score=score)
    assert words in " ".join(caught.value.message_dict["score"])
    assert not Rating.objects.exists() and counters(trailer) == (0, 0, None)


def test_undo_brings_back_the_previous_score_or_no_rating(user, make_trailer):
    trailer = make_trailer()
    rate_trailer(user=user, trailer=trailer, score=8)
    assert undo_rating(user=user, trailer=trailer, previous=5, given=8).score == 5
    assert undo_rating(user=user, trailer=trailer, previous=None, given=5) is None
    assert not Rating.objects.exists() and counters(trailer) == (0, 0, None)


def test_undo_refuses_when_the_rating_is_no_longer_the_one_given(user, make_trailer):
    from trailers.services.raters import RatingChanged

    trailer = make_trailer()
    rate_trailer(user=user, trailer=trailer, score=9)  # given 5 on Rate next, changed to 9 elsewhere since
    with pytest.raises(RatingChanged) as refused:
        undo_rating(user=user, trailer=trailer, previous=None, given=5)
    assert refused.value.code == "rating_changed" and "is now 9/10" in str(refused.value)
    assert counters(trailer) == (1, 9, 9.0)


def test_a_bulk_import_creates_and_changes_and_refuses_a_bad_score_whole(user, other_user, make_trailer):
    a, b = make_trailer(), make_trailer()
    rate_trailer(user=user, trailer=a, score=2)
    assert save_ratings(ratings=[(user.pk, a.pk, 6), (other_user.pk, a.pk, 8), (user.pk, b.pk, 3)]) == 3
    assert save_ratings(ratings=[(user.pk, a.pk, 6)]) == 0  # unchanged
    assert counters(a) == (2, 14, 7.0) and counters(b) == (1, 3, 3.0)
    with pytest.raises(ValidationError):
        save_ratings(ratings=[(user.pk, b.pk, 9), (other_user.pk, b.pk, 12)])
    assert Rating.objects.get(user=user, trailer=b).score == 3  # nothing of the refused import was written


def test_a_rater_left_out_counts_in_no_label_until_brought_back(staff_user, user, other_user, make_trailer):
    trailers = [make_trailer() for _ in range(2)]
    for trailer in trailers:
        rate_trailer(user=user, trailer=trailer, score=4)
        rate_trailer(user=other_user, trailer=trailer, score=10)
    assert labelled_trailers(label_source="user_mean") == {t.pk: 7.0 for t in trailers}
    assert set_rater_excluded(user=other_user, excluded=True, by=staff_user, reason="rates everything 10") is True
    assert set_rater_excluded(user=other_user, excluded=True, by=staff_user) is False  # already
    assert ExcludedRater.objects.get().reason == "rates everything 10"
    assert labelled_trailers(label_source="user_mean") == {t.pk: 4.0 for t in trailers}
    assert labelled_trailers(label_source="user_mean", min_ratings=2) == {}
    assert set_rater_excluded(user=other_user, excluded=False) is True
    assert set_rater_excluded(user=other_user, excluded=False) is False
    assert labelled_trailers(label_source="user_mean", min_ratings=2) == {t.pk: 7.0 for t in trailers}


def test_a_ratings_csv_is_read_with_a_report_of_every_row_it_refused(user, other_user, make_trailer):
    known, by_hash = make_trailer(title="Known"), make_trailer(title="By hash")
    rate_trailer(user=user, trailer=known, score=3)
    rate_trailer(user=other_user, trailer=known, score=5)
    data = "\n".join([
        "trailer_id,sha256,title,username,score,updated_at",
        f"{known.pk},,Known,alice,9,",  # changed
        f"{known.pk},,Known,bob,5,",  # unchanged
        f",{by_hash.sha256},,alice,6,",  # new, found by its file's hash
        f"{known.pk},,Known,carol,4,",  # nobody called carol
        "999999,,Gone,alice,4,",  # no such trailer
        f",{'f' * 64},,alice,4,",  # no such file
        f"{by_hash.pk},,By hash,bob,11,",  # no rating
        f"{known.pk},,Known,alice,2,",  # alice again
    ]).encode()
    report = import_ratings_csv(data=data)
    assert (report.created, report.changed, report.unchanged) == (1, 1, 1)
    assert report.refused == [
        (5, "no account is called 'carol'"),
        (6, "no trailer has the id '999999'"),
        (7, "no trailer has the sha256 ffffffffffff…"),
        (8, "A rating is a whole number from 1 to 10; 11 is outside that range."),
        (9, "alice rated this trailer on line 2 already"),
    ]
    assert report.summary == "1 new rating, 1 changed, 1 unchanged, 5 rows refused"
    assert counters(known) == (2, 14, 7.0) and counters(by_hash) == (1, 6, 6.0)


def test_refused_rows_are_numbered_as_the_file_s_lines_after_a_quoted_line_break_or_a_blank_line(user, make_trailer):
    trailer = make_trailer()
    data = "\r\n".join([
        "trailer_id,username,score,note",
        f'{trailer.pk},alice,7,"two\r\nlines"',  # lines 2-3
        "",  # line 4
        f"{trailer.pk},carol,4,",  # line 5
        f'{trailer.pk},dave,1,"one\nmore"',  # lines 6-7: no such person either
    ]).encode()
    assert import_ratings_csv(data=data).refused == [(5, "no account is called 'carol'"),
                                                     (6, "no account is called 'dave'")]


def test_a_stray_quote_that_would_swallow_the_rows_after_it_refuses_the_whole_file(user, make_trailer):
    trailers = [make_trailer(title=f"T{n}") for n in range(8)]
    lines = ["username,score,trailer_id"] + [f"alice,{n + 1},{t.pk}" for n, t in enumerate(trailers)]
    lines[4] = f'alice,"7,{trailers[3].pk}'  # line 5: the quote never closes where it should
    with pytest.raises(RatingsImportError, match="After line 4, the file cannot be read as CSV .*quote"):
        import_ratings_csv(data="\n".join(lines).encode())  # open at the end of the file
    assert not Rating.objects.exists()
    lines[-1] += ',"'  # now it closes on the last line: still one value swallowing four rows
    with pytest.raises(RatingsImportError) as caught:
        import_ratings_csv(data="\n".join(lines).encode())
    assert "Line 5: a quote in the score column opens a value that runs on to line 9" in caught.value.message
    assert "nothing was imported" in caught.value.message
    assert not Rating.objects.exists()


def test_a_trailer_id_in_other_digits_than_ascii_names_no_trailer(user, make_trailer):
    trailer = make_trailer()
    fullwidth = "".join(chr(ord("０") + int(d)) for d in str(trailer.pk))
    report = import_ratings_csv(data=f"username,score,trailer_id\nalice,4,{fullwidth}\n".encode())
    assert report.refused == [(2, f"no trailer has the id {fullwidth!r}")] and not Rating.objects.exists()


@pytest.mark.parametrize(("data", "words"), [
    ("\xff\xfe".encode("latin-1"), "The file is not UTF-8 text"),
    (b"name,rating\nalice,4\n", "needs the columns username, score and trailer_id or sha256; this one has name, rating"),
    (b"", "this one has none"),
])
def test_a_file_that_is_no_ratings_csv_is_refused_whole_with_its_code(user, make_trailer, data, words):
    with pytest.raises(RatingsImportError) as caught:
        import_ratings_csv(data=data)
    error = caught.value
    assert isinstance(error, ServiceError) and isinstance(error, ValueError)
    assert (error.code, error.status, error.field) == ("unreadable_ratings", 400, "file")
    assert words in error.message
    assert not Rating.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_ratings_and_the_trailers_deletion_at_once_take_turns(make_trailer, user, other_user):
    """Ratings given and removed while the trailer was deleted deadlocked (a 500 for the rating or the delete,
    which left the trailer there), or failed on the rating's foreign key: now they take turns, and a rating that
    comes second is told the trailer is gone."""
    from django.db import connection

    from tests.support.together import at_once
    from trailers.services.trailers import delete_trailer

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (CI's): SQLite runs one writing transaction at a time")
    for _ in range(3):
        trailer = make_trailer()
        rate_trailer(user=user, trailer=trailer, score=5)
        results = at_once(lambda t=trailer: rate_trailer(user=user, trailer=t, score=9),
                          lambda t=trailer: rate_trailer(user=other_user, trailer=t, score=2),
                          lambda t=trailer: delete_rating(user=user, trailer=t),
                          lambda t=trailer: delete_trailer(trailer=t))
        unexpected = [r for r in results if isinstance(r, Exception)
                      and not (isinstance(r, ServiceError) and r.code == "not_found")]
        assert unexpected == [], results
        assert not Trailer.objects.filter(pk=trailer.pk).exists() and not Rating.objects.filter(trailer=trailer).exists()


def test_a_rating_says_what_it_replaced_as_it_read_it(make_trailer, user):
    """Rate next kept the score a rating replaced by reading it before the rating's own lock: a rating given on the
    trailer page at the same moment was missed, and undo then removed the rating instead of giving that one back."""
    trailer = make_trailer()
    assert rate_trailer(user=user, trailer=trailer, score=3).previous_score is None
    assert rate_trailer(user=user, trailer=trailer, score=8).previous_score == 3
    assert rate_trailer(user=user, trailer=trailer, score=8).previous_score == 8
