"""What ``OPTIONS`` says of an endpoint: for each method that takes a body, the fields of that body.

DRF's SimpleMetadata asks the view for its serializer once, for every method alike, while the view is answering
OPTIONS: a viewset whose serializer depends on its action then describes its output (a trailer's fields) as what
POST and PUT take, and checks the permissions OPTIONS needs rather than those of the method. Here each method is
looked at as its own request would be: the action it maps to, that action's permissions, and the body serializer
the viewset names for it in ``request_serializers`` (an action not named there takes no body).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.metadata import SimpleMetadata
from rest_framework.request import clone_request

BODY_METHODS = ("POST", "PUT", "PATCH")


class ActionMetadata(SimpleMetadata):
    def determine_actions(self, request, view):
        bodies = getattr(view, "request_serializers", None)
        action_map = getattr(view, "action_map", None)
        if bodies is None or not action_map:
            return super().determine_actions(request, view)
        actions, answering = {}, view.action
        for method in BODY_METHODS:
            action = action_map.get(method.lower())
            if action is None or action not in bodies:
                continue
            view.request, view.action = clone_request(request, method), action
            try:
                view.check_permissions(view.request)
                if method in ("PUT", "PATCH") and view.kwargs.get(view.lookup_url_kwarg or view.lookup_field):
                    view.get_object()
            except (exceptions.APIException, PermissionDenied, Http404):
                continue
            finally:
                view.request, view.action = request, answering
            actions[method] = self.get_serializer_info(bodies[action]())
        return actions
