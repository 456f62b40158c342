"""Schemathesis hooks for authenta-emulator's jobs routes.

`POST /v1/jobs` has rules OpenAPI 3.0 cannot state: the task type (in the
query, or as `taskTypeId` in the body) decides which input slots the body
may name and which content types each slot takes (`x-task-types`), a slot
is named once, and `parameters.isSimilarityCheck` needs a `reference`
slot. A request generated as valid (positive mode) is made valid under
those rules too, from the task-type table of the spec being tested (nothing
restated here); negative cases are left alone, so the server is still
checked to refuse them. Without this, hardly a generated create succeeds and
the stateful links from it (get, finalize, cancel, delete) are never
followed.

Use: SCHEMATHESIS_HOOKS=hooks (with this directory on PYTHONPATH).
"""

import schemathesis
from schemathesis.generation import GenerationMode


def _task_types(case):
    schemas = case.operation.schema.raw_schema["components"]["schemas"]
    return {row["id"]: row for row in schemas["TaskType"]["x-task-types"]}


@schemathesis.hook("before_call").apply_to(operation_id="createJob")
def consistent_job_request(context, case, kwargs):
    # `before_call` runs in every phase (a `map_case` hook is not applied to
    # the examples and coverage phases); Schemathesis revalidates the case
    # after it, so an edit that left the schema would be seen.
    if case.meta is None or case.meta.generation.mode != GenerationMode.POSITIVE:
        return
    body = case.body if isinstance(case.body, dict) else None
    if body is None or not isinstance(body.get("inputs"), list) or not body["inputs"]:
        return
    tasks = _task_types(case)
    if not isinstance(case.query, dict):
        case.query = {}
    query = case.query
    named = query.get("taskTypeId", body.get("taskTypeId"))
    try:
        task = tasks[int(named)]
    except (TypeError, ValueError, KeyError):
        # No task type, or one the table lacks: take one from the table, as
        # the sizes and names drawn already pick one deterministically.
        task = list(tasks.values())[len(body["inputs"][0].get("fileName", "")) % len(tasks)]
    if "taskTypeId" in query:
        query["taskTypeId"] = task["id"]
        body.pop("taskTypeId", None)
    else:
        body["taskTypeId"] = str(task["id"])
    # One input per slot the task has, at most as many as were drawn, the
    # required `original` first; each content type one its slot takes.
    drawn = body["inputs"]
    inputs = []
    for i, slot in enumerate(task["slots"]):
        if i >= len(drawn) and not slot["required"]:
            break
        given = dict(drawn[min(i, len(drawn) - 1)])
        given["slotName"] = slot["name"]
        types = slot["contentTypes"]
        if given.get("contentType") not in types:
            given["contentType"] = types[given.get("sizeBytes", 0) % len(types)]
        inputs.append(given)
    body["inputs"] = inputs
    params = body.get("parameters")
    if isinstance(params, dict) and params.get("isSimilarityCheck") is True:
        if not any(i["slotName"] == "reference" for i in inputs):
            params["isSimilarityCheck"] = False
