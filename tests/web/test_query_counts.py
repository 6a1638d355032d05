"""Every page and API list asks the database the same number of questions at any size: with a handful of trailers
(a part of one page) and with more than a page of them (full pages, deeper pages), for every sort. What a list
costs must not grow with the data or with the rows on a page (issue 15)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.support.rows import create_cv_run, create_run, create_version, cv_version_metrics
from tests.support.scale import grow
from trailers.models import Trailer
from trailers.services.summaries import keep_prediction_summary

pytestmark = pytest.mark.django_db

SMALL, LARGE = 4, 130  # trailers: part of one page; more than two pages of 50


# Every page and list, with the queries it makes. Pages: the session and the user first. A list: its count, its
# page's ids, those rows. The predictions page adds the version, the scored and ready counts, the kept figures, how
# many look unlike the training trailers and the version picker (a filter computes the figures afresh from the rows
# instead of reading the kept ones).
EXPECTED: dict[str, int] = {
    "/": 6,  # session, user, count, ids, rows, active version
    "/?page=2": 6,
    "/?sort=-mean": 6,
    "/?sort=count": 6,
    "/?sort=mine": 6,
    "/?sort=-predicted": 6,
    "/?sort=title": 6,
    "/?rated=yes&predicted=yes&q=Bulk&sort=-mean": 6,
    "/?rated=no&status=ready": 6,
    "/rate/": 9,  # session, user, the next trailer, its page (trailer, predictions, subclips, mine, distribution), left
    "/trailers/{trailer}/": 8,
    "/runs/": 5,  # session, user, count, ids, rows
    # session, user, the run (with its frames, kept by its worker), its estimate without every trailer's prediction
    "/runs/{run}/": 4,
    "/runs/{cv_run}/": 4,
    # session, user, version, scored and ready (the active version is still scoring: no scored_at), kept figures,
    # the novelty counts (one aggregate), count, ids, rows, versions
    "/predictions/": 10,
    "/predictions/?page=2": 10,
    "/predictions/?sort=-error": 10,
    "/predictions/?sort=mean": 10,
    "/predictions/?version={old_version}": 10,  # not active: no scoring to follow, but whether it scored any
    "/predictions/?rated=yes": 10,  # every rated trailer: the kept figures
    # no prediction here has a novelty: no rows (the rated scan finds none), and whether the version keeps any
    "/predictions/?unlike=yes": 9,
    "/predictions/?q=Bulk": 9,  # narrowed: the rated rows (with what the version knew of each, and how many match
    # in all: the paginator does not count again), not kept figures
    "/predictions/?rated=no": 8,  # every trailer here has ratings: no rows, no figures to read
    "/predictions.csv": 4,  # session, user, version, the rows (read in chunks: one more per 2,000 rows)
    "/api/trailers/": 3,  # count, ids, rows (token auth: no session)
    "/api/trailers/?page=last": 3,
    "/api/trailers/?sort=-mean": 3,
    "/api/trailers/?sort=mine": 3,
    "/api/trailers/{trailer}/": 6,
    "/api/runs/": 3,
    "/api/runs/{cv_run}/": 2,  # the run without its dataset and estimate, the estimate less every trailer's part
    "/api/runs/{cv_run}/dataset/": 3,  # the run, a page of its dataset, those trailers' folds and held-out predictions
    "/api/model-versions/": 3,
    "/api/predictions/": 3,
    "/api/predictions/?version=active&page=last": 4,  # the active version, count, ids, rows
    "/api/predictions/?trailer={trailer}": 3,
    "/admin/trailers/trailer/": 8,  # session, user, count, rows, the filters' codecs and containers, dates
    "/admin/trailers/rating/": 4,  # session, user, count (exact up to 10,000 rows), rows (deeper pages: ids first)
    "/admin/trailers/rating/?score__exact=7": 4,
    "/admin/trailers/prediction/": 5,  # ... and the version filter's versions
    "/admin/trailers/subclip/": 4,
    "/admin/trailers/trainingrun/": 6,
    "/admin/trailers/modelversion/": 5,
}


def get(staff_client, api: APIClient, url: str):
    response = (api if url.startswith("/api/") else staff_client).get(url)
    if response.streaming:
        b"".join(response.streaming_content)  # a streamed body's queries run as it is read
    assert response.status_code == 200, (url, response.status_code)


def test_every_page_and_list_costs_the_same_queries_at_any_size(staff_client, staff_user, user, other_user,
                                                                 django_assert_num_queries):
    people = [staff_user, user, other_user]
    old = create_version(number=1)
    active = create_version(number=2, active=True)
    trailers = grow(SMALL, people, [old, active])
    cv_run = create_cv_run(trailers[:3], [4.0, 6.0, 8.0])
    create_version(number=3, run=cv_run, **cv_version_metrics(trailers=3))
    run = create_run()
    api = APIClient()
    api.force_authenticate(staff_user)
    ids = {"trailer": trailers[0].pk, "run": run.pk, "cv_run": cv_run.pk, "old_version": old.pk}

    for size in (SMALL, LARGE):
        grow(size - Trailer.objects.count(), people, [old, active])
        for version in (old, active):
            keep_prediction_summary(model_version=version)
        assert Trailer.objects.count() == size
        for url, expected in EXPECTED.items():
            with django_assert_num_queries(expected):
                get(staff_client, api, url.format(**ids))


def test_comparing_runs_costs_the_same_queries_for_two_runs_and_for_eight(staff_client):
    # Each run read its dataset and its estimate (megabytes at 50,000 trailers) and its groups' titles: 9 queries
    # for 2 runs, 27 for 8.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.support.rows import create_trailer

    trailers = [create_trailer() for _ in range(3)]
    runs = [create_cv_run(trailers, [4.0, 6.0, 8.0]) for _ in range(8)]
    for number, run in enumerate(runs, 1):
        create_version(number=number, run=run, **cv_version_metrics(trailers=3))
    counts = {}
    for n in (2, 8):
        with CaptureQueriesContext(connection) as queries:
            page = staff_client.get("/runs/compare/?" + "&".join(f"runs={r.pk}" for r in runs[:n]))
        assert page.status_code == 200 and page.content.decode().count("cross-validated, 3 folds") >= n
        counts[n] = len(queries)
    assert counts[2] == counts[8], counts
