"""schemathesis hooks for tests/openapi/check.sh (loaded through SCHEMATHESIS_HOOKS).

An update (`PUT [type]/[id]`) whose body `id` differs from the URL answers 400, so nearly every
generated update would stop there. The body takes the URL's id instead, so updates (and the
replayed spec examples) reach the update-or-create path of the server.
"""

import schemathesis


@schemathesis.hook
def before_call(context, case, **kwargs):
    operation_id = case.operation.definition.raw.get("operationId", "")
    if operation_id.startswith("update-") and not operation_id.startswith("update-conditional-"):
        if isinstance(case.body, dict) and "id" in (case.path_parameters or {}):
            case.body["id"] = case.path_parameters["id"]
