"""Schemathesis hooks for scripts/fuzz-api.sh.

Schemathesis reuses ids it reads from responses, so it soon learns the
fuzzing admin's own user and session ids and ends its own session (or
disables itself once it has promoted someone), after which every request
is a 401 that tests nothing. Requests aimed at the fuzzer's account go to
a member account made for the run instead, and those aimed at its session
get a random id (answered 404).
"""

import os
import uuid

import schemathesis

OWN_ID = os.environ["FUZZ_ADMIN_ID"]
OWN_SESSION = os.environ["FUZZ_SESSION_ID"]
MEMBER_ID = os.environ["FUZZ_MEMBER_ID"]


@schemathesis.hook
def before_call(context, case, kwargs):
    for name, value in (case.path_parameters or {}).items():
        if str(value) == OWN_ID:
            case.path_parameters[name] = MEMBER_ID
        elif str(value) == OWN_SESSION:
            case.path_parameters[name] = str(uuid.uuid4())
