"""Which school is the demo school, so every page of it can say its data is synthetic.

The demo school of `make demo` (seeded by `manage.py seed_demo`) is recognised by its slug
alone, with no model field: only `seed_demo` creates an organization with this slug.
"""

from __future__ import annotations

from wellbeing.models import Organization
from wellbeing.retention_limits import MIN_GROUP_SIZE_FLOOR

DEMO_SLUG = "demo-academy"
# The lowest group size the settings allow: the demo classroom's live stream recognises five
# people at most, and the live numbers are hidden below the group size.
DEMO_MIN_GROUP_SIZE = MIN_GROUP_SIZE_FLOOR


def is_demo_school(organization: Organization | None) -> bool:
    """True for the demo school, whose history and most students are synthetic."""
    return organization is not None and organization.slug == DEMO_SLUG
