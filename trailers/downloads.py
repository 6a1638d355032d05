"""CSV downloads, streamed: the predictions and the ratings, for the pages and the API alike."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from django.http import StreamingHttpResponse

ROWS_PER_CHUNK = 500  # rows written to the response at a time


def csv_download(*, columns: list[str], rows: Iterable[list], filename: str) -> StreamingHttpResponse:
    """A CSV file of ``columns`` then ``rows``, sent ROWS_PER_CHUNK rows at a time as ``filename``: the rows are
    read as the response is sent, never held all at once."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def take() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    def lines():
        writer.writerow(columns)
        for written, row in enumerate(rows, start=1):
            writer.writerow(row)
            if written % ROWS_PER_CHUNK == 0:
                yield take()
        yield take()

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
