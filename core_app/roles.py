"""Membership roles and their order: owner > admin > editor > viewer."""

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    EDITOR = "editor", "Editor"
    VIEWER = "viewer", "Viewer"


RANK = {Role.VIEWER: 1, Role.EDITOR: 2, Role.ADMIN: 3, Role.OWNER: 4}


def roles_at_least(role):
    """All roles whose rank is at least that of `role` (None means any role)."""
    if role is None:
        return list(RANK)
    return [r for r, rank in RANK.items() if rank >= RANK[role]]


def has_role(role, needed):
    """True when `role` (possibly None) ranks at least `needed`."""
    return role is not None and RANK[role] >= RANK[needed]


def may_assign(actor_role, role):
    """True when someone with `actor_role` may give `role` to a member, or change or remove a member who has it.

    Admins manage members up to admin; only owners make (or unmake) owners, so that no admin can
    promote themselves, or anyone, above their own role.
    """
    if role == Role.OWNER:
        return actor_role == Role.OWNER
    return has_role(actor_role, Role.ADMIN)
