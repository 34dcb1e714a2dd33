"""The back office's own admin screens: account freezes and the staff audit trail.

The freeze screens call ``backoffice.freezes`` (the back-office API calls the same
services); the audit trail is read-only for everyone, superusers included.
"""

from . import admin_audit, admin_freezes  # noqa: F401 - each registers its screens
