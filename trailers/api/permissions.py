"""Who may do what through the API: everyone logged in reads; staff alone train, cancel and activate."""

from rest_framework.permissions import BasePermission


class IsStaff(BasePermission):
    message = "Only staff can do this."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)
