"""`manage.py embed_subclips`: give subclips the frozen encoder's embeddings, from their stored frames.

For trailers preprocessed before embeddings existed, or with other encoder weights or
EMBEDDING_SIZE: nothing is decoded or uploaded again. Workers' sweeps fill in missing embeddings
in the background (on the video queue), but leave those made otherwise to this command: run it
where the settings are the site's, after they change.
"""

from django.core.management.base import BaseCommand, CommandError

from ml.embeddings import EncoderError
from trailers.services import embed_subclips
from trailers.services.embeddings import embedding_spec, stale_subclips


class Command(BaseCommand):
    help = "Embed every subclip that lacks this installation's embeddings (from its stored frames)."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=None, help="embed at most this many subclips")

    def handle(self, *args, limit=None, **options):
        if limit is not None and limit < 1:
            raise CommandError("--limit must be at least 1")
        try:
            spec = embedding_spec()
            waiting = stale_subclips().count()
            done = embed_subclips(limit=limit)
        except EncoderError as exc:
            raise CommandError(str(exc)) from None
        left = stale_subclips().count()
        self.stdout.write(f"Embedded {done} of {waiting} subclip(s) with {spec.describe()}; {left} still without.")
