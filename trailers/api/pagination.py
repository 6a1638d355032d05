"""Page numbers for the API: a page that is not a number is bad input (400); a page past the end is 404.

``page_size`` picks how many rows a page holds, up to MAX_PAGE_SIZE; a larger one is served as
MAX_PAGE_SIZE, and the ``next`` and ``previous`` links carry the size that was served.
Pages are read ids first (trailers.paging.IdsFirstPaginator), as the pages' are: the hundredth costs what the
first does."""

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.utils.urls import replace_query_param

from trailers.paging import IdsFirstPaginator

MAX_PAGE_SIZE = 500


class Pages(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    django_paginator_class = IdsFirstPaginator

    def paginate_queryset(self, queryset, request, view=None):
        raw = request.query_params.get(self.page_query_param)
        if raw is not None and raw not in self.last_page_strings:
            if not (raw.isascii() and raw.isdecimal() and 0 < int(raw[:19])):
                raise ValidationError({self.page_query_param: ["Give a page number: 1 or more, or 'last'."]})
        size = request.query_params.get(self.page_size_query_param)
        if size is not None and not (size.isascii() and size.isdecimal() and 0 < int(size[:19])):
            raise ValidationError({self.page_size_query_param: [
                f"Give a page size: a whole number from 1 to {self.max_page_size} (larger is served as "
                f"{self.max_page_size})."]})
        return super().paginate_queryset(queryset, request, view)

    def _with_served_size(self, url):
        if url is None or self.page_size_query_param not in self.request.query_params:
            return url
        return replace_query_param(url, self.page_size_query_param, self.page.paginator.per_page)

    def get_next_link(self):
        return self._with_served_size(super().get_next_link())

    def get_previous_link(self):
        return self._with_served_size(super().get_previous_link())

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:  # what paginate_queryset takes, said in the schema
                parameter["schema"] = {"oneOf": [{"type": "integer", "minimum": 1},
                                                 {"type": "string", "enum": list(self.last_page_strings)}]}
                parameter["description"] = "A page number (1 or more), or 'last'. Past the end: 404."
            elif parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
                parameter["description"] = (f"Rows per page (default {self.page_size}); more than "
                                            f"{self.max_page_size} is served as {self.max_page_size}.")
        return parameters
