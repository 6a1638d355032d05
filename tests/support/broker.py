"""What the services handed to the broker (the embedded default's filesystem broker, or Redis), read back."""

from __future__ import annotations


def broker_messages(queue_name: str = "video") -> list[tuple[str, list]]:
    """(task name, args) of every message waiting on the broker's queue, taken off it."""
    from config.celery import app

    out = []
    with app.connection_for_read() as conn:
        queue = conn.SimpleQueue(queue_name)
        while True:
            try:
                message = queue.get(block=False)
            except queue.Empty:
                break
            out.append((message.headers["task"], message.decode()[0]))
            message.ack()
        queue.close()
    return out
