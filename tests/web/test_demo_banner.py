"""While the demo is built in the background, every page (the login page and the admin's too) says what is still
being built; a build whose process is gone says it stopped; a finished one says nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from trailers import demo_status

pytestmark = pytest.mark.django_db


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return tmp_path


def test_every_page_says_what_is_still_being_built(var_dir, client, user_client, staff_client):
    demo_status.write("preprocessed 43 of 80 trailers; then a model is trained on them")
    expected = "The demo is still being built: preprocessed 43 of 80 trailers; then a model is trained on them."
    assert expected in client.get("/accounts/login/").content.decode()
    assert expected in user_client.get("/").content.decode()
    assert "The demo is still being built: preprocessed 43 of 80 trailers" in staff_client.get("/admin/").content.decode()


def test_a_finished_build_says_nothing_and_a_gone_one_says_it_stopped(var_dir, client):
    demo_status.write("complete", done=True)
    assert 'id="demo-banner"' not in client.get("/accounts/login/").content.decode()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (var_dir / demo_status.FILE).write_text(json.dumps({"stage": "training run #1: epoch 3 of 15", "done": False,
                                                        "pid": int(gone.stdout), "updated": 0}))
    html = client.get("/accounts/login/").content.decode()
    assert "The demo build stopped before it finished (training run #1: epoch 3 of 15)" in html
    demo_status.write("it failed: the worker did not start", failed=True)
    assert "stopped before it finished (it failed: the worker did not start)" in client.get("/accounts/login/").content.decode()


def test_no_file_no_banner(var_dir, client):
    assert demo_status.current() is None
    assert 'id="demo-banner"' not in client.get("/accounts/login/").content.decode()


def test_a_demo_built_whole_once_is_not_built_again_whatever_was_deleted_of_it(db):
    from trailers.demo import DemoOptions, _built_name, build_demo, was_built
    from trailers.models import PeriodicJob, Trailer

    options = DemoOptions(trailers=4, random_seed=3)
    untrained = DemoOptions(trailers=4, random_seed=3, train=False)
    assert not was_built(options) and not was_built(untrained)
    PeriodicJob.objects.create(name=_built_name(untrained))  # built once without training: a trained one is not
    assert was_built(untrained) and not was_built(options)
    PeriodicJob.objects.create(name=_built_name(options))
    said = []
    summary = build_demo(options, say=said.append)  # its trailers all deleted since: nothing is uploaded again
    assert summary == {"trailers": 0, "ratings": 0, "already": 1} and not Trailer.objects.exists()
    assert said == ["The demo was built before: trailers deleted since are not made again (`make clean` starts "
                    "afresh)."]
