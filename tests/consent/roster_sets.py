"""A small OneRoster 1.1 set for the roster import tests (line numbers matter: errors name them).

Ada (stu-1) is in 7B and Art 7 with her mother Anne (related from Ada's row); Ben (stu-2) is in
7B with Chidi (related from Chidi's row only) and Ngozi (from Ben's row); Tess teaches 7B and
has the e-mail address of the ``teacher`` fixture.
"""

from __future__ import annotations

import io
import zipfile

USERS_HEADER = (
    "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,"
    "givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password"
)
ORGS = """sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId
dist-1,,,North District,district,,
sch-1,,,Northside School,school,,dist-1
"""
CLASSES_HEADER = (
    "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,"
    "schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods"
)
CLASSES = f"""{CLASSES_HEADER}
cls-7b,,,7B,07,,7B,homeroom,,sch-1,,,,
cls-art,,,Art 7,07,,ART7,scheduled,,sch-1,,,,
"""
USERS = f"""{USERS_HEADER}
stu-1,,,true,sch-1,student,ada,,Ada,Lovelace,,,,,,par-1,07,
stu-2,,,true,sch-1,student,ben,,Ben,Okafor,,,,,,par-3,07,
par-1,,,true,sch-1,parent,anne,,Anne,Lovelace,,,Anne@Example.org,,+44 20 7946 0001,,,
par-2,,,true,sch-1,guardian,chidi,,Chidi,Okafor,,,chidi@example.org,,,stu-2,,
par-3,,,true,sch-1,relative,ngozi,,Ngozi,Okafor,,,,,+44 20 7946 0003,,,
tea-1,,,true,sch-1,teacher,tess,,Tess,Teacher,,,teacher@example.org,,,,,
"""
ENROLLMENTS_HEADER = (
    "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,"
    "beginDate,endDate"
)
ENROLLMENTS = f"""{ENROLLMENTS_HEADER}
enr-1,,,cls-7b,sch-1,stu-1,student,false,,
enr-2,,,cls-art,sch-1,stu-1,student,false,,
enr-3,,,cls-7b,sch-1,stu-2,student,false,,
enr-4,,,cls-7b,sch-1,tea-1,teacher,true,,
"""
DEMOGRAPHICS = """sourcedId,status,dateLastModified,birthDate,sex
stu-1,,,2013-12-10,female
"""


def oneroster(**replaced: str) -> dict[str, bytes]:
    """The set as uploaded files; ``users="..."`` replaces users.csv (``users=""`` drops it)."""
    texts = {
        "orgs": ORGS,
        "classes": CLASSES,
        "users": USERS,
        "enrollments": ENROLLMENTS,
        "demographics": DEMOGRAPHICS,
    }
    texts.update(replaced)
    return {f"{name}.csv": text.encode() for name, text in texts.items() if text}


def zipped(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(f"export/{name}", content)
    return out.getvalue()


TEMPLATE_HEADER = (
    "student_id,full_name,grade,date_of_birth,birth_year,age_band,classes,guardian_name,"
    "guardian_relation,guardian_email,guardian_phone,guardian2_name,guardian2_relation,"
    "guardian2_email,guardian2_phone"
)
TEMPLATE = f"""{TEMPLATE_HEADER}
S-1,Ada Lovelace,7,2013-12-10,,,7B;Art 7,Anne Lovelace,mother,anne@example.org,,,,,
S-2,Ben Okafor,7,,2013,,7B,Chidi Okafor,,chidi@example.org,,Ngozi Okafor,aunt,,+44 20 7946 0003
"""
