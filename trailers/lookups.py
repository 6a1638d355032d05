"""``__uicontains``: "contains, ignoring case" for every script, on every database.

Django's ``icontains`` is SQL's LIKE on SQLite, which folds the case of ASCII letters only: "AMÉLIE" found no
"Amélie" there (PostgreSQL's UPPER knows every letter). On SQLite the title and the text searched for are both
case-folded by Python (``str.casefold``, registered on each connection as REELSCORE_CASEFOLD) before LIKE compares
them; on PostgreSQL it is ``icontains`` as it was, so its trigram index on the titles still serves.
"""

from __future__ import annotations

from django.db.backends.signals import connection_created
from django.db.models import CharField, Func, Lookup, TextField
from django.db.models.lookups import IContains

FUNCTION = "REELSCORE_CASEFOLD"


class UnicodeIContains(Lookup):
    lookup_name = "uicontains"

    def as_sql(self, compiler, connection):
        return compiler.compile(IContains(self.lhs, self.rhs))

    def as_sqlite(self, compiler, connection):
        folded = self.rhs.casefold() if isinstance(self.rhs, str) else self.rhs
        return compiler.compile(IContains(Func(self.lhs, function=FUNCTION, output_field=CharField()), folded))


def _casefold(value):
    return value.casefold() if isinstance(value, str) else value


def _register_function(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function(FUNCTION, 1, _casefold, deterministic=True)


def install() -> None:
    """Called once, by the app's ready()."""
    CharField.register_lookup(UnicodeIContains)
    TextField.register_lookup(UnicodeIContains)
    connection_created.connect(_register_function, dispatch_uid="reelscore-casefold")
