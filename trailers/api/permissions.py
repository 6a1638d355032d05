"""Who may do what through the API: everyone logged in reads; the rest follows trailers/permissions.py."""

from rest_framework.permissions import BasePermission

from trailers.permissions import REFUSALS, can


def needs(permission: str) -> BasePermission:
    """A DRF permission that asks trailers.permissions for ``permission``."""

    class Needs(BasePermission):
        message = REFUSALS[permission]

        def has_permission(self, request, view) -> bool:
            return can(request.user, permission)

    return Needs()
