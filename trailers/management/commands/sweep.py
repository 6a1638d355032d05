"""`manage.py sweep`: hand waiting work to the broker (after it was down, or after a worker died).

The scheduler (Celery beat) has a video worker run the same sweep every
SWEEP_INTERVAL_SECONDS; this runs it once, by hand (for instance while no worker or
scheduler is up).
"""

from django.core.management.base import BaseCommand

from trailers.services import sweep


class Command(BaseCommand):
    help = ("Run the scheduler's sweep once: enqueue trailers, training runs, scoring and embedding work that is "
            "waiting for the broker or lost its worker; fail the trailers past their time limit or whose workers "
            "died too often, and the runs whose workers died too often; make the predictions page's stale "
            "summaries again; delete expired login sessions.")

    def handle(self, *args, **options):
        counts = sweep()
        self.stdout.write(f"Enqueued {counts['trailers']} trailer(s), {counts['runs']} training run(s), "
                          f"{counts['scoring']} scoring task(s) and {counts['embedding']} embedding task(s); "
                          f"failed {counts['failed_trailers']} trailer(s) and {counts['failed_runs']} run(s); "
                          f"made {counts['summaries']} prediction summary(ies) again; deleted "
                          f"{counts['sessions']} expired login session(s).")
