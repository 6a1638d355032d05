"""`manage.py make_demo_dataset`: synthetic trailers, demo raters, a trained and active model.

Needs a running worker (`make demo` starts one). Idempotent: a second run finds the demo in a few queries and
builds, enqueues and regenerates nothing. Every page's banner follows the build (trailers/demo_status.py).
"""

from django.core.management.base import BaseCommand, CommandError

from trailers import demo_status
from trailers.demo import DemoOptions, build_demo


class Command(BaseCommand):
    help = ("Create the demo dataset (synthetic trailers, ratings by demo users) and train and activate a model. "
            "Needs a running worker (make demo and manage.py serve --demo start one).")

    def add_arguments(self, parser):
        parser.add_argument("--trailers", type=int, default=DemoOptions.trailers,
                            help="how many synthetic trailers (default %(default)s)")
        parser.add_argument("--random-seed", type=int, default=DemoOptions.random_seed,
                            help="random seed of the trailers, the ratings and the run (default %(default)s)")
        parser.add_argument("--epochs", type=int, default=DemoOptions.epochs, help="epochs of the demo run (default %(default)s)")
        parser.add_argument("--no-train", action="store_true", help="only the trailers and ratings, no training")
        parser.add_argument("--timeout", type=float, default=DemoOptions.timeout, help="seconds to wait for the worker (default %(default)s)")

    def handle(self, *args, trailers, random_seed, epochs, no_train, timeout, **options):
        if trailers < 3:
            raise CommandError("--trailers must be at least 3 (a run needs 3 labelled trailers).")
        try:
            summary = build_demo(DemoOptions(trailers=trailers, random_seed=random_seed, train=not no_train, epochs=epochs,
                                             timeout=timeout), say=self.stdout.write, status=demo_status.write)
        except (TimeoutError, RuntimeError) as exc:
            raise CommandError(str(exc)) from exc
        what = (f"{summary['trailers']} trailers, {summary['ratings']} ratings"
                + (f", model v{summary['model_version']} active" if "model_version" in summary else ""))
        if summary.get("already"):
            self.stdout.write(f"The demo dataset is there: {what}; nothing to build.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Demo dataset ready: {what}."))
