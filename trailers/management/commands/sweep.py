"""`manage.py sweep`: hand waiting work to the broker (after it was down, or after a worker died).

The scheduler (Celery beat) has a video worker run the same sweep every
SWEEP_INTERVAL_SECONDS; this runs it once, by hand (for instance while no worker or
scheduler is up).
"""

from django.core.management.base import BaseCommand

from trailers.services import sweep


class Command(BaseCommand):
    help = "Enqueue trailers and training runs that are waiting for the broker or lost their worker."

    def handle(self, *args, **options):
        counts = sweep()
        self.stdout.write(f"Enqueued {counts['trailers']} trailer(s), {counts['runs']} training run(s), "
                          f"{counts['scoring']} scoring task(s) and {counts['embedding']} embedding task(s); "
                          f"made {counts['summaries']} prediction summary(ies) again.")
