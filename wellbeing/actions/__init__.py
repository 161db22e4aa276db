"""Core actions of the wellbeing app, one module per concept.

* :mod:`.audit`: who acts (``AuditContext``) and ``record_audit``, the one way to write an
  audit event (``build_audit_event`` for many at once). Every function that reads or changes
  a participant's data writes one; views never write audit events themselves.
* :mod:`.participants`: participants, guardians, caseloads.
* :mod:`.classrooms`: classrooms, their teachers and face detector.
* :mod:`.school_settings`: what a school admin may change about their school.
* :mod:`.schools`: the operator sets up a school and its first admin.

Callers import from ``wellbeing.actions``; the names below are its public interface (the
package was one module before it grew, and the re-exports keep every import working).
Capture devices and their tokens are capture's (:mod:`capture.devices`).
"""

from wellbeing.actions.audit import AuditContext, build_audit_event, record_audit
from wellbeing.actions.classrooms import (
    ClassroomRefused,
    create_classroom,
    record_classroom_edit,
    update_classroom,
)
from wellbeing.actions.participants import (
    AGE_FIELDS,
    CaseloadRefused,
    ParticipantRefused,
    add_guardian,
    assign_caseload,
    create_participant,
    update_participant,
)
from wellbeing.actions.school_settings import (
    SCHOOL_SETTINGS,
    SchoolSettingsRefused,
    update_school_settings,
)
from wellbeing.actions.schools import (
    PasswordRequired,
    SchoolSetup,
    SchoolSetupRefused,
    SchoolWanted,
    create_school_with_admin,
)

__all__ = [
    "AGE_FIELDS",
    "SCHOOL_SETTINGS",
    "AuditContext",
    "CaseloadRefused",
    "ClassroomRefused",
    "ParticipantRefused",
    "PasswordRequired",
    "SchoolSettingsRefused",
    "SchoolSetup",
    "SchoolSetupRefused",
    "SchoolWanted",
    "add_guardian",
    "assign_caseload",
    "build_audit_event",
    "create_classroom",
    "create_participant",
    "create_school_with_admin",
    "record_audit",
    "record_classroom_edit",
    "update_classroom",
    "update_participant",
    "update_school_settings",
]
