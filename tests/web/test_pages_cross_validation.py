"""A cross-validated run as people see it: the held-out estimate first, per fold, the near-duplicate groups,
curves averaged over folds; and the honest figures of its version on the predictions page."""

from __future__ import annotations

import re
from html import unescape

import pytest

from ml.metrics import mae, rmse
from tests.support.rows import create_cv_run, cross_validation_estimate, cv_version_metrics, fold_metrics
from trailers.models import TrainingRun
from trailers.services import rate_trailer

pytestmark = pytest.mark.django_db

LABELS = [3.0, 4.0, 5.0, 6.0, 7.0, 8.0]


@pytest.fixture
def six(make_trailer):
    return [make_trailer(title=name) for name in ("Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot")]


def _section(html: str, section_id: str) -> str:
    match = re.search(rf'<section[^>]*id="{section_id}".*?</section>', html, flags=re.S)
    assert match, f"no section #{section_id}"
    return match.group(0)


def _cells(row_html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row_html, re.S)]


def test_the_estimate_comes_first_with_both_baselines_and_says_it_is_held_out(user_client, six, make_version):
    run = create_cv_run(six, LABELS)
    make_version(number=3, run=run, **cv_version_metrics())
    html = user_client.get(f"/runs/{run.pk}/").content.decode()

    estimate = _section(html, "cv-estimate")
    assert html.index('id="cv-estimate"') < html.index("svg class=\"chart")  # before the curves
    assert re.search(r'id="cv-mae">MAE 0\.612 <span class="sd">± 0\.041</span>', estimate)
    assert 'id="cv-baseline-mae">1.234 ± 0.100<' in estimate
    assert 'id="cv-single-frame-mae">0.921 ± 0.020<' in estimate
    words = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", estimate))
    assert "Every figure here is on trailers the scoring model never trained on." in words
    assert "The 6 trailers were split into 3 folds" in words and "trained on the other 2 folds and was scored on the fold it never saw" in words
    assert "fixed 2 epochs: nothing was chosen on the held-out folds" in words

    rows = {role: _cells(row) for role, row in re.findall(r'<tr data-role="(\w+)"[^>]*>(.*?)</tr>', estimate, re.S)}
    assert list(rows) == ["model", "mean_baseline", "single_frame", "neighbours"]
    assert rows["model"][1:] == ["0.612 ± 0.041", "0.803 ± 0.052", "0.547 ± 0.098"]
    assert rows["mean_baseline"][1:] == ["1.234 ± 0.100", "1.525 ± 0.050", "—"]  # a constant has no Spearman
    assert rows["single_frame"][1:] == ["0.921 ± 0.020", "1.120 ± 0.020", "0.300 ± 0.000"]
    assert rows["neighbours"][1:] == ["0.970 ± 0.030", "1.300 ± 0.000", "0.200 ± 0.000"]
    assert "Mean-rating baseline" in rows["mean_baseline"][0] and "Single-frame" in rows["single_frame"][0]
    assert "Nearest neighbours (the mean rating of the 5 training trailers" in words
    assert 'id="cv-neighbours-warning"' not in estimate  # the model (0.612) beat them (0.970)

    assert "3 folds (each held out once)" in html and "6 trailers, cross-validated" in html
    assert re.search(r'id="run-progress">100% · 3 folds of 2 epochs each', html)
    assert "validation split" not in html.lower()


def test_the_per_fold_table(user_client, six):
    run = create_cv_run(six, LABELS)
    folds = _section(user_client.get(f"/runs/{run.pk}/").content.decode(), "cv-folds")
    header = _cells(re.search(r"<thead>(.*?)</thead>", folds, re.S).group(1))
    assert header == ["Fold", "Held-out trailers", "Trained on", "Model MAE", "Baseline MAE", "Single-frame MAE",
                      "Neighbours MAE", "Model RMSE", "Baseline RMSE", "Spearman"]
    rows = [_cells(row) for row in re.findall(r'<tr data-fold="\d+">(.*?)</tr>', folds, re.S)]
    assert rows == [
        ["1", "2", "4", "0.500", "1.200", "0.900", "1.000", "0.700", "1.500", "0.600"],
        ["2", "2", "4", "0.600", "1.250", "0.920", "0.970", "0.800", "1.550", "0.500"],
        ["3", "2", "4", "0.700", "1.300", "0.940", "0.940", "0.900", "1.600", "0.400"],
    ]


def test_a_run_without_the_single_frame_head_says_so(user_client, six):
    run = create_cv_run(six, LABELS, cross_validation=cross_validation_estimate(six, single_frame=False))
    html = user_client.get(f"/runs/{run.pk}/").content.decode()
    assert 'data-role="single_frame"' not in html and "the single-frame head was not fit on this run" in html
    assert "no nearest-neighbours baseline" not in html
    first = re.search(r'<tr data-fold="1">(.*?)</tr>', html, re.S).group(1)
    assert _cells(first)[5] == "—"


def test_a_model_far_worse_than_the_mean_rating_is_told_so(user_client, six):
    """As the CLI warns: over three times the mean rating's MAE, its training most likely went astray."""
    estimate = cross_validation_estimate(six)
    html = user_client.get(f"/runs/{create_cv_run(six, LABELS, cross_validation=estimate).pk}/").content.decode()
    assert 'id="cv-far-worse-warning"' not in html  # 0.612 against 1.234
    estimate["summary"]["model"]["mae"] = {"mean": 4.0, "sd": 0.5}
    html = unescape(user_client.get(f"/runs/{create_cv_run(six, LABELS, cross_validation=estimate).pk}/")
                    .content.decode())
    warning = re.search(r'<p class="notice notice-warning" id="cv-far-worse-warning">(.*?)</p>', html, re.S).group(1)
    assert warning.startswith("On these folds the model (MAE 4.000) did over three times worse than predicting the "
                              "mean rating (1.234): its training most likely went astray")


def test_a_model_that_the_neighbours_beat_is_told_so(user_client, six):
    estimate = cross_validation_estimate(six)
    estimate["summary"]["neighbours"]["mae"] = {"mean": 0.5, "sd": 0.1}
    run = create_cv_run(six, LABELS, cross_validation=estimate)
    warning = re.search(r'<p class="notice notice-warning" id="cv-neighbours-warning">(.*?)</p>',
                        user_client.get(f"/runs/{run.pk}/").content.decode(), re.S).group(1)
    assert warning.startswith("On these folds the nearest neighbours (MAE 0.500) did better than this run's "
                              "model (0.612)")
    estimate["summary"]["neighbours"]["mae"] = {"mean": 0.6117, "sd": 0.1}  # 0.612 as the page shows it: a tie
    tied = create_cv_run(six, LABELS, cross_validation=estimate)
    assert 'id="cv-neighbours-warning"' not in user_client.get(f"/runs/{tied.pk}/").content.decode()


def test_a_run_whose_predictions_come_from_a_refit_says_so_beside_its_estimate(user_client, six):
    run = create_cv_run(six, LABELS, cross_validation={**cross_validation_estimate(six, neighbour_weight=0.5),
                                                       "refit": True})
    estimate = _section(user_client.get(f"/runs/{run.pk}/").content.decode(), "cv-estimate")
    words = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", re.search(r'<p id="cv-refit">(.*?)</p>', estimate, re.S)[1]))
    assert words.startswith("The version's predictions come from one more model, fit on all 6 trailers with the "
                            "same 2 epochs and mixed with their neighbours in the same share")
    assert "the figures above are the fold models', so they may estimate it a little pessimistically" in words
    assert 'id="cv-refit"' not in user_client.get(f"/runs/{create_cv_run(six, LABELS).pk}/").content.decode()


def test_a_model_mixed_with_the_neighbours_shows_their_share_and_the_head_alone(user_client, six):
    run = create_cv_run(six, LABELS, cross_validation=cross_validation_estimate(six, neighbour_weight=0.75),
                        model_config={"encoder": "efficientnet_lite0", "temporal": "lstm"})
    html = user_client.get(f"/runs/{run.pk}/").content.decode()
    estimate = _section(html, "cv-estimate")
    rows = {role: _cells(row) for role, row in re.findall(r'<tr data-role="(\w+)"[^>]*>(.*?)</tr>', estimate, re.S)}
    assert list(rows) == ["model", "head", "mean_baseline", "single_frame", "neighbours"]
    assert rows["model"][0] == ("This run&#x27;s model (the LRCN: the encoder, then an LSTM over the frames, mixed with "
                                "the nearest neighbours)")
    assert rows["head"][1:] == ["0.900 ± 0.100", "1.000 ± 0.000", "0.400 ± 0.000"]
    # The words follow the run's options: a single_frame run has no LSTM, a scratch one no pretrained encoder.
    for model, words in (({"encoder": "efficientnet_lite0", "temporal": "mean"}, "the encoder, its frames averaged: no LSTM"),
                         ({"encoder": "scratch", "temporal": "lstm"}, "the LRCN: a CNN learnt from scratch, then an "
                                                                      "LSTM over the frames")):
        other = create_cv_run(six, LABELS, cross_validation=cross_validation_estimate(six), model_config=model)
        page = _section(user_client.get(f"/runs/{other.pk}/").content.decode(), "cv-estimate")
        described = re.search(r"This run&#x27;s model <span[^>]*>\(([^<]*)\)", page)[1]
        assert described.startswith(words), described
    mix = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", re.search(r'<p id="cv-neighbour-mix">(.*?)</p>', estimate, re.S)[1]))
    assert "the neighbours weigh 75% in the version's predictions" in mix
    assert "a share chosen on the other folds' predictions, never on its own trailers" in mix
    folds = _section(html, "cv-folds")
    header = _cells(re.search(r"<thead>(.*?)</thead>", folds, re.S).group(1))
    assert header[-3:] == ["Head MAE", "Neighbours' share", "Spearman"]
    rows = [_cells(row) for row in re.findall(r'<tr data-fold="\d+">(.*?)</tr>', folds, re.S)]
    assert [row[-3:-1] for row in rows] == [["0.800", "0%"], ["0.900", "25%"], ["1.000", "50%"]]
    # A run whose model is the head alone says nothing of a mix.
    plain = user_client.get(f"/runs/{create_cv_run(six, LABELS).pk}/").content.decode()
    assert 'id="cv-neighbour-mix"' not in plain and "Neighbours' share" not in plain and 'data-role="head"' not in plain


def test_a_run_without_embeddings_has_no_neighbours_baseline_and_says_so(user_client, six):
    run = create_cv_run(six, LABELS, cross_validation=cross_validation_estimate(six, neighbours=False))
    html = user_client.get(f"/runs/{run.pk}/").content.decode()
    assert 'data-role="neighbours"' not in html
    assert "this run has no nearest-neighbours baseline (it needs every trailer's embeddings)" in html
    first = re.search(r'<tr data-fold="1">(.*?)</tr>', html, re.S).group(1)
    assert _cells(first)[6] == "—"


def test_near_duplicate_groups_link_their_trailers(user_client, six):
    alpha, bravo, charlie, delta = six[:4]
    estimate = cross_validation_estimate(six, groups=[[alpha.pk, bravo.pk], [charlie.pk, delta.pk, 99999]])
    run = create_cv_run(six, LABELS, cross_validation=estimate)
    groups = _section(user_client.get(f"/runs/{run.pk}/").content.decode(), "cv-groups")
    assert "2 groups of near-identical trailers (5 trailers), each kept in one fold" in groups
    items = re.findall(r"<li>(.*?)</li>", groups, re.S)
    assert len(items) == 2
    assert f'<a href="/trailers/{alpha.pk}/">Alpha</a> · <a href="/trailers/{bravo.pk}/">Bravo</a>' in items[0]
    assert f'href="/trailers/{delta.pk}/">Delta</a>' in items[1] and "trailer #99999 (deleted)" in items[1]
    assert "at least 0.97" in groups
    # Both rules that join two trailers, as ml.crossval.near_duplicate_groups applies them.
    assert ("at least 0.97 alike (cosine similarity of their embeddings), or when they are at most 33% as far apart "
            "as two of the run's trailers typically are.") in groups


def test_no_groups_and_not_checked_are_told_apart(user_client, six):
    none_found = create_cv_run(six, LABELS)
    html = _section(user_client.get(f"/runs/{none_found.pk}/").content.decode(), "cv-groups")
    assert "None found" in html and "at least 0.97" in html
    unchecked = create_cv_run(six, LABELS, cross_validation=cross_validation_estimate(six, duplicates_checked=False))
    html = _section(user_client.get(f"/runs/{unchecked.pk}/").content.decode(), "cv-groups")
    assert "Not checked" in html and "at least 0.97" not in html


def test_curves_average_the_folds_and_say_held_out_fold(user_client, six):
    run = create_cv_run(six, LABELS)
    html = user_client.get(f"/runs/{run.pk}/").content.decode()
    loss, mae_chart = re.findall(r'<svg class="chart line-chart".*?</svg>', html, flags=re.S)
    assert "held-out fold loss" in loss and "held-out fold MAE" in mae_chart and "validation" not in loss + mae_chart
    assert loss.count("<polyline") == 2 and loss.count("<circle") == 4  # one point per epoch, not per fold and epoch
    # Epoch 1's held-out MAE averaged over folds 1–3: (1.0 - 0.1 + 0.1 f) for f = 1, 2, 3 → 1.1.
    assert "held-out fold MAE: epoch 1, 1.1<" in mae_chart
    assert "Held-out fold MAE against the mean baseline" in html
    table = _section(html, "per-epoch")
    assert "Per epoch, mean over folds" in table
    rows = [_cells(row) for row in re.findall(r"<tr>(<td.*?)</tr>", table, re.S)]
    assert [row[:2] for row in rows] == [["1", "3"], ["2", "3"]]  # epoch, folds averaged
    assert rows[0][4] == "1.100"


def test_a_running_cross_validation_says_which_fold_it_is_on(user_client, six):
    metrics = fold_metrics(folds=3, epochs=4)[:6]  # fold 1 done (4 epochs), fold 2 at epoch 2
    run = create_cv_run(six, LABELS, epochs=4, status=TrainingRun.Status.RUNNING, progress=0.5, epoch=2,
                        metrics=metrics, cross_validation={})
    html = user_client.get(f"/runs/{run.pk}/").content.decode()
    assert re.search(r'id="run-progress">50% · fold 2 of 3 · epoch 2 of 4', html)
    assert "It appears when every fold is done (3 folds)" in html
    partial = user_client.get(f"/runs/{run.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "fold 2 of 3" in partial
    # Epochs 1–2 average two folds, 3–4 only the first.
    rows = [_cells(row) for row in re.findall(r"<tr>(<td.*?)</tr>", _section(html, "per-epoch"), re.S)]
    assert [row[:2] for row in rows] == [["1", "2"], ["2", "2"], ["3", "1"], ["4", "1"]]


def test_a_running_cross_validation_in_its_refit_says_so_and_so_does_one_cancelled_there(user_client, six):
    metrics = fold_metrics(folds=3, epochs=4)  # every fold done
    train = {"epochs": 4, "batch_size": 4, "device": "cpu", "folds": 3, "restore_best": False, "refit": True,
             "single_frame_baseline": False}  # 4 fits: the 3 folds' models, then the refit
    run = create_cv_run(six, LABELS, epochs=4, status=TrainingRun.Status.RUNNING, progress=0.8, epoch=2,
                        metrics=metrics, cross_validation={}, train_config=train)
    html = user_client.get(f"/runs/{run.pk}/").content.decode()
    assert re.search(r'id="run-progress">80% · the refit on every trailer, after the 3 folds · epoch 2 of 4</p>', html)
    run.progress = 0.7  # still the third fold's model
    run.save(update_fields=["progress"])
    assert "fold 3 of 3" in user_client.get(f"/runs/{run.pk}/").content.decode()
    run.progress, run.status = 0.9, TrainingRun.Status.CANCELLED
    run.save(update_fields=["progress", "status"])
    assert "Cancelled during the refit on every trailer, after its 3 folds." in user_client.get(
        f"/runs/{run.pk}/").content.decode()


def test_a_resumed_cross_validation_counts_the_epochs_it_resumed_after_over_its_folds(user_client, six, make_run):
    """"5 folds of 60 epochs each · resumed from a checkpoint after epoch 220" read as an epoch of a fold."""
    metrics = fold_metrics(folds=3, epochs=4)[:6]
    run = create_cv_run(six, LABELS, epochs=4, status=TrainingRun.Status.RUNNING, progress=0.5, epoch=2,
                        metrics=metrics, cross_validation={}, resumed_from_epoch=5)
    html = user_client.get(f"/runs/{run.pk}/").content.decode()
    assert re.search(r'id="run-progress">50% · fold 2 of 3 · epoch 2 of 4 \(epochs restart in every fold\) · resumed '
                     r'from a checkpoint after 5 epochs in all, over its folds</p>', html), html
    single = make_run(epochs=3, resumed_from_epoch=2)
    assert "resumed from a checkpoint after epoch 2</p>" in user_client.get(f"/runs/{single.pk}/").content.decode()


def test_a_queued_run_with_folds_is_known_to_be_cross_validated(user_client, make_run):
    run = make_run(status=TrainingRun.Status.QUEUED, metrics=[], dataset=[], started_at=None,
                   train_config={"epochs": 3, "folds": 5})
    html = user_client.get(f"/runs/{run.pk}/").content.decode()
    assert "It appears when every fold is done (5 folds)" in html and "fold 1 of" not in html


def test_a_run_without_folds_labels_its_figure_a_validation_split(user_client, make_run, make_version):
    run = make_run(epochs=3)  # older runs: a train/val split, no folds
    make_version(number=1, run=run)
    html = user_client.get(f"/runs/{run.pk}/").content.decode()
    estimate = _section(html, "val-estimate")
    assert "Validation split (the epoch was chosen on it; flatters the model)" in estimate
    assert "MAE 1.100" in estimate and "2.100" in estimate  # the best epoch (3) and its baseline
    assert 'id="cv-estimate"' not in html and "held-out fold" not in html
    assert "Best epoch (lowest validation MAE): 3" in html


def test_auto_activation_shows_its_comparison(user_client, six, make_version):
    run = create_cv_run(six, LABELS)
    comparison = {"active": 1, "trailers": 6, "new_mae": 0.6, "old_mae": 0.9, "decision": "activate",
                  "reason": "better on the same 6 held-out trailers, MAE 0.600 against v1's 0.900"}
    make_version(number=2, run=run, active=True, **cv_version_metrics(comparison=comparison))
    html = user_client.get(f"/runs/{run.pk}/").content.decode()
    assert "Auto-activation activated it: better on the same 6 held-out trailers, MAE 0.600 against v1&#x27;s 0.900." \
        in html


def test_the_runs_list_says_which_estimate_each_mae_is(user_client, six, make_run, make_version):
    make_version(number=1, run=make_run(), val_mae=1.5)
    make_version(number=2, run=create_cv_run(six, LABELS), **cv_version_metrics())
    make_run(status=TrainingRun.Status.RUNNING)  # no version yet: no figure
    html = user_client.get("/runs/").content.decode()
    assert "0.612 <span class=\"muted\">± 0.041 (cv)</span>" in html
    assert "1.500 <span class=\"muted\"" in html and html.count("(val)") == 1


# --- the predictions page of a cross-validated version -------------------------------------------------------------


@pytest.fixture
def cv_scored(user, six, make_trailer, make_version, make_prediction):
    """v2, cross-validated over the six trailers (held-out predictions differ from its stored ones), active,
    has scored them and two trailers added after its run; all are rated."""
    held_out = {t.pk: label + delta for t, label, delta in zip(six, LABELS, [0.5, -0.5, 1.0, 0.0, -1.0, 0.5],
                                                                strict=True)}
    run = create_cv_run(six, LABELS, cross_validation=cross_validation_estimate(six, predictions=held_out))
    version = make_version(number=2, run=run, active=True, **cv_version_metrics())
    newer = [make_trailer(title="Golf"), make_trailer(title="Hotel")]
    stored = {}
    for trailer, label in zip(six + newer, LABELS + [5.0, 9.0], strict=True):
        stored[trailer.pk] = label + 0.1  # the ensemble trained on the six: close to their labels
        make_prediction(version, trailer, stored[trailer.pk], uncertainty=0.25)
        rate_trailer(user=user, trailer=trailer, score=int(label))
    return {"version": version, "six": six, "newer": newer, "held_out": held_out, "stored": stored}


def test_held_out_and_newer_figures_are_shown_apart(user_client, cv_scored):
    six, newer, held_out = cv_scored["six"], cv_scored["newer"], cv_scored["held_out"]
    html = user_client.get("/predictions/").content.decode()
    truth = LABELS
    assert 'id="metric-n">8<' in html and 'id="held-out-n">6<' in html and 'id="unseen-n">2<' in html
    held_mae = mae(truth, [held_out[t.pk] for t in six])
    assert f'id="held-out-mae">{held_mae:.3f}<' in html
    assert f'id="held-out-rmse">{rmse(truth, [held_out[t.pk] for t in six]):.3f}<' in html
    # Each fold's baseline is the mean label of the other folds (trailers dealt in order into 3 folds).
    folds = [[0, 3], [1, 4], [2, 5]]
    baseline = {}
    for fold in folds:
        rest = [LABELS[i] for i in range(6) if i not in fold]
        baseline.update({i: sum(rest) / len(rest) for i in fold})
    assert f'id="held-out-baseline">{mae(truth, [baseline[i] for i in range(6)]):.3f}<' in html
    newer_truth, newer_predicted = [5.0, 9.0], [5.1, 9.1]
    assert f'id="unseen-mae">{mae(newer_truth, newer_predicted):.3f}<' in html
    assert f'id="unseen-baseline">{mae(newer_truth, [sum(LABELS) / 6] * 2):.3f}<' in html
    words = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))
    assert f"Held-out, cross-validated: MAE {held_mae:.3f} over 6 trailers" in words
    assert f"on 2 trailers not in the run, MAE {mae(newer_truth, newer_predicted):.3f}" in words
    assert "so it flatters the model" in words and "0.612 ± 0.041 over 3 folds" in words
    assert '<th scope="col">Not in the run</th>' in html  # rated trailers the run did not train on, new or not
    assert "These columns pool their trailers, so their RMSE and Spearman can differ a little from the run page's, " \
           "which are the mean over folds." in words
    assert newer[0].title in html


def test_training_labels_count_every_trailer_of_a_cross_validated_run(cv_scored):
    from trailers import selectors

    labels = selectors.run_standing(cv_scored["version"]).trained
    assert labels == {t.pk: label for t, label in zip(cv_scored["six"], LABELS, strict=True)}


def test_a_run_that_made_fewer_folds_than_asked_says_why(user_client, six):
    asked_ten = {"epochs": 2, "batch_size": 4, "device": "cpu", "folds": 10, "restore_best": False}
    run = create_cv_run(six, LABELS, train_config=asked_ten)  # its estimate has 3 folds: 3 units were dealt out
    html = user_client.get(f"/runs/{run.pk}/").content.decode()
    assert ('<span id="cv-fewer-folds">10 were asked for, but there were only 3 trailers to deal out, each group of '
            'near-duplicates counting as one</span>') in html
    assert 'id="cv-fewer-folds"' not in user_client.get(f"/runs/{create_cv_run(six, LABELS).pk}/").content.decode()
