"""One-hook permission classes, composed in ``api.py`` with ``&`` and ``|``.

DRF (3.14+) evaluates ``A | B`` on an object as
``(A.has_permission and A.has_object_permission) or (B.has_permission and ...)``,
so each class only needs the hook it decides on.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission


class IsReadOnly(BasePermission):
    """GET, HEAD and OPTIONS."""

    def has_permission(self, request, view) -> bool:
        return request.method in SAFE_METHODS


class IsAuthor(BasePermission):
    """The object's author."""

    def has_object_permission(self, request, view, obj) -> bool:
        return obj.author_id == request.user.pk


class IsStaff(BasePermission):
    """Staff members."""

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_staff)
