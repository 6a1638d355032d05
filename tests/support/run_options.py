"""A run's options as the tests give them: the admin's start-a-run form as a browser posts it, and a tiny run that
trains in seconds on a CPU."""

from __future__ import annotations


def run_form_data(form_preset: str = "default", **overrides) -> dict:
    """The admin's start-a-run form as a browser would post it: its initial values, plus ``overrides``."""
    from trailers.run_forms import TrainingRunForm

    form = TrainingRunForm(preset=form_preset)
    data = {}
    for name, field in form.fields.items():
        value = form.get_initial_for_field(field, name)
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value
    for name, value in overrides.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else value
    return data


TINY_RUN = {
    "model__frame_size": 32, "model__channels1": 4, "model__channels2": 8, "model__embedding_size": 8,
    "model__lstm_size": 8, "train__epochs": 3, "train__batch_size": 4,
    "train__frames_per_sample": 4, "train__device": "cpu", "train__lr": 0.01,
}


def tiny_configs(**train_changes):
    """TINY_RUN as the config objects a service takes (for runs started without the admin)."""
    from ml.config import LRCNConfig, TrainConfig

    model = {k.removeprefix("model__"): v for k, v in TINY_RUN.items() if k.startswith("model__")}
    train = {k.removeprefix("train__"): v for k, v in TINY_RUN.items() if k.startswith("train__")}
    return LRCNConfig(**model), TrainConfig(**{**train, **train_changes})
