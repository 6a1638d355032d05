"""What the services handed to the broker (the embedded default's filesystem broker, or Redis), read back."""

from __future__ import annotations


def broker_messages(queue_name: str = "video", *, time_limits: bool = False) -> list[tuple]:
    """(task name, args) of every message waiting on the broker's queue, taken off it; with ``time_limits``,
    (task name, args, the hard time limit the message gives its task)."""
    from config.celery import app

    out = []
    with app.connection_for_read() as conn:
        queue = conn.SimpleQueue(queue_name)
        while True:
            try:
                message = queue.get(block=False)
            except queue.Empty:
                break
            entry = (message.headers["task"], message.decode()[0])
            out.append((*entry, message.headers["timelimit"][0]) if time_limits else entry)
            message.ack()
        queue.close()
    return out
