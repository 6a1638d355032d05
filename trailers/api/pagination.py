"""Page numbers for the API: a page that is not a number is bad input (400); a page past the end is 404.

Pages are read ids first (trailers.paging.IdsFirstPaginator), as the pages' are: the hundredth costs what the
first does."""

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination

from trailers.paging import IdsFirstPaginator


class Pages(PageNumberPagination):
    django_paginator_class = IdsFirstPaginator

    def paginate_queryset(self, queryset, request, view=None):
        raw = request.query_params.get(self.page_query_param)
        if raw is not None and raw not in self.last_page_strings:
            if not (raw.isascii() and raw.isdecimal() and 0 < int(raw[:19])):
                raise ValidationError({self.page_query_param: ["Give a page number: 1 or more, or 'last'."]})
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:  # what paginate_queryset takes, said in the schema
                parameter["schema"] = {"oneOf": [{"type": "integer", "minimum": 1},
                                                 {"type": "string", "enum": list(self.last_page_strings)}]}
                parameter["description"] = "A page number (1 or more), or 'last'. Past the end: 404."
        return parameters
