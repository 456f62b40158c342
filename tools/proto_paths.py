#!/usr/bin/env python3
"""Rewrites paths to authenta-proto's root for the names that left it
(issue 20: the root keeps ~24 common names; the rest live in their module).

    python3 proto_paths.py FILE_OR_DIR...

Idempotent. Rewrites `authenta_proto::Name`, `proto::Name` (any
`...::proto::Name`), and the same inside `use ...::{...}` groups, in .rs and
.md files. `crate::Name` inside authenta-proto and authenta-client is left
alone (both keep crate-private imports of every name)."""
import os
import re
import sys

MOVED = {}
for module, names in {
    "config": "DEFAULT_USER_AGENT ENV_BASE_URL",
    "credentials": "CredentialKind ENV_API_KEY ENV_CLIENT_ID ENV_CLIENT_SECRET HEADER_CLIENT_ID HEADER_CLIENT_SECRET Refresh",
    "engine::resume": "Resume",
    "error": "ApiError BatchStopped BoxError DecodeError HttpError Interrupted JobInputError JobStateError JobWaitTimeout LocalIo UploadError UploadExpired WaitBound WaitTimeout error_chain",
    "jobs": "InconsistentJobPage JobCursor JobFile check_job_id check_job_inputs task_type",
    "ops": "CancelJob CreateJob CreateMedia DeleteJob DeleteMedia FinalizeJob GetJob GetMedia ListJobs ListMedia",
    "options": "Checkpoint CheckpointFn",
    "paginate": "InconsistentPage ListCursor",
    "poll": "PollStep",
    "response": "SNIPPET_LEN check_api_response read_artifact_response read_json read_upload_response snippet",
    "retry": "Replay RetryAction RetryDecision RetryReason classify_error classify_status classify_transport",
    "upload": "EXPECT_CONTINUE_MIN EXPECT_CONTINUE_WAIT artifact_request",
    "validate": "check_mid check_model content_type_of_extension default_model detect_content_type",
    "wire": "MAX_API_RESPONSE_BYTES RESPONSE_READ_LIMIT RequestTimeout RetryAfter ShortBody TransportErrorKind UploadStalled",
}.items():
    for name in names.split():
        MOVED[name] = module

PREFIX = re.compile(r"(?<![\w:])((?:crate::|self::|super::)?(?:[a-z_]+::)*(?:proto|authenta_proto))::")
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def group_end(text, start):
    """The index just past the `}` matching the `{` at `start`."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    return -1


def rewrite_group(group):
    """`{A, b::C, D as E}`: the bare top-level names that moved get their module."""
    inner = group[1:-1]
    parts, depth, last = [], 0, 0
    for i, c in enumerate(inner):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(inner[last:i])
            last = i + 1
    parts.append(inner[last:])
    out = []
    for part in parts:
        m = re.match(r"(\s*)([A-Za-z_][A-Za-z0-9_]*)(\s*(?:as\s+\w+)?\s*)$", part)
        if m and m.group(2) in MOVED:
            part = f"{m.group(1)}{MOVED[m.group(2)]}::{m.group(2)}{m.group(3)}"
        out.append(part)
    return "{" + ",".join(out) + "}"


def rewrite(text):
    out, pos = [], 0
    for m in PREFIX.finditer(text):
        if m.start() < pos:
            continue
        after = m.end()
        if text.startswith("{", after):
            end = group_end(text, after)
            if end < 0:
                continue
            out.append(text[pos:after])
            out.append(rewrite_group(text[after:end]))
            pos = end
            continue
        ident = IDENT.match(text, after)
        if ident and ident.group(0) in MOVED:
            out.append(text[pos:after])
            out.append(f"{MOVED[ident.group(0)]}::")
            pos = after
    out.append(text[pos:])
    return "".join(out)


def files(paths):
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, names in os.walk(path):
                dirs[:] = [d for d in dirs if d not in ("target", ".git")]
                for name in names:
                    if name.endswith((".rs", ".md")):
                        yield os.path.join(root, name)
        else:
            yield path


changed = 0
for path in files(sys.argv[1:]):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    new = rewrite(text)
    if new != text:
        with open(path, "w", encoding="utf-8") as f:
            f.write(new)
        changed += 1
        print("rewrote", path)
print(changed, "files rewritten")
