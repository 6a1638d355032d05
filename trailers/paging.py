"""Pages of rows that cost the same at 50 rows or 5 million: lists read a page's ids first, the admin's largest
tables estimate their counts."""

from __future__ import annotations

import json

from django.core.paginator import Page, Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property


class IdsFirstPaginator(Paginator):
    """Django's paginator, but a page is read in two steps: the page's ids in the list's order (a narrow query
    the database answers from its indexes, however deep the page), then only those rows with everything they
    show. Joins and subqueries for what is shown run for one page of rows, never for the rows skipped."""

    def page(self, number) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        return self._get_page(rows_by_ids(self.object_list, bottom, top), number, self)


def rows_by_ids(queryset: QuerySet, bottom: int, top: int) -> list:
    """Rows ``bottom``..``top`` of ``queryset`` (in its order): their ids, then the rows themselves. (A plain
    list is sliced.)"""
    if not isinstance(queryset, QuerySet):
        return list(queryset[bottom:top])
    ids = list(queryset.values_list("pk", flat=True)[bottom:top])
    if not ids:
        return []
    by_id = {row.pk: row for row in queryset.order_by().filter(pk__in=ids)}
    return [by_id[pk] for pk in ids if pk in by_id]


class AdminPaginator(IdsFirstPaginator):
    """The admin's lists: deep pages ids first, but the first page read directly. It skips no rows, so reading
    its ids first would only add a query; and Django's admin reads a list that fits on one page directly too,
    so a list costs the same queries whatever its length."""

    def page(self, number) -> Page:
        if self.validate_number(number) == 1:
            return super(IdsFirstPaginator, self).page(number)
        return super().page(number)


class EstimatedCountPaginator(AdminPaginator):
    """For the admin's lists of millions of rows (ratings, predictions), where counting every row that matches
    would cost more than the page: counts exactly up to EXACT_UP_TO rows; past that, PostgreSQL's planner's
    estimate of the matching rows (so page numbers near the end are approximate). Other databases count. A page
    is read ids first, as every list's (the joins for what it shows run for its rows only)."""

    EXACT_UP_TO = 10_000

    @cached_property
    def count(self) -> int:
        rows = self.object_list.order_by()
        counted = rows.select_related(None).values("pk")[: self.EXACT_UP_TO + 1].count()
        if counted <= self.EXACT_UP_TO:
            return counted
        connection = connections[rows.db]
        if connection.vendor != "postgresql":
            return rows.count()
        sql, params = rows.select_related(None).values("pk").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
        if isinstance(plan, str):
            plan = json.loads(plan)
        return max(counted, int(plan[0]["Plan"]["Plan Rows"]))
