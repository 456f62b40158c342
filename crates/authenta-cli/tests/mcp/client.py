"""Drives `authenta mcp` with the official Python MCP SDK's client.

Run by tests/mcp.rs:  PYTHON client.py SCENARIO AUTHENTA WORKDIR [ARGS...]

Each scenario asserts what the server answers and exits non-zero (with the
assertion's message) on the first surprise. The server's stderr goes to
WORKDIR/server-N.log.
"""

import asyncio
import json
import os
import re
import sys
import urllib.request

try:
    from mcp import ClientSession, StdioServerParameters, stdio_client
except ImportError as e:  # The Rust test says how to install it.
    print(f"the `mcp` package is missing: {e}", file=sys.stderr)
    sys.exit(3)


def log(*args):
    print(*args, flush=True)


class Server:
    """One `authenta` MCP server, its control surface read from its log."""

    def __init__(self, exe, workdir, args, env=None, name="server"):
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.params = StdioServerParameters(
            command=exe, args=args, cwd=workdir, env=env or {}
        )

    def control_url(self):
        with open(self.log_path) as f:
            text = f.read()
        found = re.search(r"control surface is (\S+)", text)
        assert found, f"no control URL in the server's log:\n{text}"
        return found.group(1)


def control(url, path, body=None, method=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url + path,
        data=data,
        method=method or ("PUT" if data else "GET"),
        headers={"content-type": "application/json"} if data else {},
    )
    with urllib.request.urlopen(request) as answer:
        return json.loads(answer.read() or b"null")


def usage(url):
    """The one key's (queryUsed, mutationUsed), as the emulator counts them."""
    keys = control(url, "/keys")
    assert len(keys) == 1, keys
    return keys[0]["queryUsed"], keys[0]["mutationUsed"]


def text_of(result):
    return " ".join(c.text for c in result.content if c.type == "text")


async def call(session, tool, arguments, expect_error=False, progress=None):
    result = await session.call_tool(tool, arguments, progress_callback=progress)
    assert bool(result.is_error) == expect_error, (
        f"{tool} {arguments}: is_error={result.is_error}: {text_of(result)}"
    )
    return result


async def full(exe, workdir):
    server = Server(exe, workdir, ["--emulator", "mcp", "--allow", "samples"])
    with open(server.log_path, "w") as errlog:
        async with stdio_client(server.params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                assert init.server_info.name == "authenta", init.server_info
                url = server.control_url()

                tools = {t.name: t for t in (await session.list_tools()).tools}
                assert set(tools) == {
                    "check_media", "get_result", "list_media", "delete_media",
                }, tools.keys()
                for name in ("get_result", "list_media"):
                    assert tools[name].annotations.read_only_hint is True, name
                assert tools["delete_media"].annotations.destructive_hint is True
                assert tools["delete_media"].annotations.read_only_hint is False
                assert tools["check_media"].annotations.read_only_hint is False
                assert tools["check_media"].annotations.destructive_hint is False
                for tool in tools.values():
                    assert "Cost" in tool.description, tool.name
                log("tools:", sorted(tools))

                # A verdict for each sample, with progress on the way.
                notes = []

                async def on_progress(progress, total, message):
                    notes.append(message)

                before = usage(url)
                checked = await call(
                    session,
                    "check_media",
                    {"paths": ["samples/test-pattern.png", "samples/test-pattern.mp4"]},
                    progress=on_progress,
                )
                files = checked.structured_content["files"]
                assert [f["path"] for f in files] == [
                    "samples/test-pattern.png", "samples/test-pattern.mp4",
                ], files
                for f in files:
                    assert f["status"] == "PROCESSED", f
                    assert f["verdict"] in ("fake", "real"), f
                    assert 0 <= f["score"] <= 1, f
                    assert (f["score"] > 0.5) == (f["verdict"] == "fake"), f
                assert files[1]["faces"] >= 1, files[1]
                assert any("uploaded as" in (n or "") for n in notes), notes
                after = usage(url)
                assert after[1] - before[1] == 2, (before, after)
                log("verdicts:", [(f["path"], f["verdict"], f["score"]) for f in files])
                log("progress notifications:", len(notes))
                png = files[0]

                # The same bytes again: the known verdict, no mutation.
                again = await call(
                    session, "check_media", {"paths": ["samples/test-pattern.png"]}
                )
                known = again.structured_content["files"][0]
                assert known["known"] is True, known
                assert (known["mid"], known["verdict"]) == (png["mid"], png["verdict"]), known
                assert usage(url)[1] == after[1], (after, usage(url))
                log("second check of the same bytes: mutations", after[1], "->", usage(url)[1])

                # The heatmap, as image content.
                result = await call(
                    session, "get_result", {"mid": png["mid"], "heatmap": True}
                )
                images = [c for c in result.content if c.type == "image"]
                assert len(images) == 1 and images[0].mime_type == "image/png", result.content
                assert result.structured_content["verdict"] == png["verdict"]
                log("heatmap:", result.structured_content["heatmap"])

                listed = await call(session, "list_media", {"limit": 10})
                mids = [r["mid"] for r in listed.structured_content["records"]]
                assert png["mid"] in mids and files[1]["mid"] in mids, listed.structured_content

                # Refused: a path out of the allowed folder, a link out of it.
                spent = usage(url)
                out = await call(
                    session, "check_media", {"paths": ["outside/secret.png"]}, expect_error=True
                )
                assert "outside the allowed folders" in text_of(out), text_of(out)
                link = await call(
                    session, "check_media", {"paths": ["samples/link.png"]}, expect_error=True
                )
                assert "is a link to" in text_of(link), text_of(link)
                dots = await call(
                    session,
                    "check_media",
                    {"paths": ["samples/../outside/secret.png"]},
                    expect_error=True,
                )
                assert "outside the allowed folders" in text_of(dots), text_of(dots)
                assert usage(url) == spent, (spent, usage(url))
                log("refused:", text_of(link))

                # A wait longer than the bound: the mid now, the verdict later.
                control(url, "/processing-time", {"millis": 3000})
                running = await call(
                    session,
                    "check_media",
                    {"paths": ["samples/test-pattern.jpg"], "wait_seconds": 0.5},
                )
                jpg = running.structured_content["files"][0]
                assert jpg["running"] is True and jpg["status"] == "UPLOADED", jpg
                assert "get_result" in jpg["advice"], jpg
                done = await call(
                    session, "get_result", {"mid": jpg["mid"], "wait_seconds": 30}
                )
                assert done.structured_content["status"] == "PROCESSED", done.structured_content
                assert done.structured_content["verdict"] in ("fake", "real")
                log("bounded wait:", jpg["status"], "then", done.structured_content["verdict"])
                # get_result kept the ledger current: no new record for it.
                spent = usage(url)
                again = await call(
                    session, "check_media", {"paths": ["samples/test-pattern.jpg"]}
                )
                assert again.structured_content["files"][0]["known"] is True
                assert usage(url)[1] == spent[1]

                # A call the client gives up on (a courtesy cancel) stops;
                # the same check again spends nothing twice.
                spent = usage(url)
                try:
                    await session.call_tool(
                        "check_media",
                        {"paths": ["samples/test-pattern.png"], "model": "FD-1", "wait_seconds": 30},
                        read_timeout_seconds=1,
                    )
                    raise AssertionError("the call was not cut off")
                except AssertionError:
                    raise
                except Exception as e:
                    log("cancelled:", type(e).__name__)
                assert usage(url)[1] == spent[1] + 1, (spent, usage(url))
                resumed = await call(
                    session,
                    "check_media",
                    {"paths": ["samples/test-pattern.png"], "model": "fd-1", "wait_seconds": 30},
                )
                f = resumed.structured_content["files"][0]
                assert f["status"] == "PROCESSED" and f["model"] == "FD-1", f
                assert usage(url)[1] == spent[1] + 1, (spent, usage(url))
                log("cancelled, then resumed: mutations", spent[1], "->", usage(url)[1])

                # Bad input is a tool error too.
                bad = await call(session, "get_result", {"mid": "nope"}, expect_error=True)
                log("bad mid:", text_of(bad))

                deleted = await call(session, "delete_media", {"mid": png["mid"]})
                assert deleted.structured_content["deleted"] is True
                gone = await call(session, "get_result", {"mid": png["mid"]}, expect_error=True)
                assert "EMU404" in text_of(gone) or "not found" in text_of(gone).lower(), text_of(gone)
                log("deleted:", png["mid"])


def account_server(exe, workdir, name, extra=()):
    """A server for the account the environment names, its ledger kept."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k.startswith("AUTHENTA_") or k == "XDG_STATE_HOME"
    }
    ledger = os.path.join(workdir, "ledger.sqlite")
    args = ["mcp", "--allow", "media", "--ledger", ledger, *extra]
    return Server(exe, workdir, args, env=env, name=name)


async def start(exe, workdir, path):
    """Checks `path` and tells each progress message: the test kills this
    client at the first one."""
    server = account_server(exe, workdir, "killed")
    with open(server.log_path, "w") as errlog:
        async with stdio_client(server.params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()

                async def on_progress(progress, total, message):
                    log("PROGRESS", message)

                await session.call_tool(
                    "check_media",
                    {"paths": [path], "wait_seconds": 120},
                    progress_callback=on_progress,
                )
                log("FINISHED")


async def finish(exe, workdir, path):
    """Checks `path` again, to its verdict."""
    server = account_server(exe, workdir, "rerun")
    with open(server.log_path, "w") as errlog:
        async with stdio_client(server.params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                result = await call(
                    session, "check_media", {"paths": [path], "wait_seconds": 120}
                )
                f = result.structured_content["files"][0]
                assert f["status"] == "PROCESSED" and f["verdict"] in ("fake", "real"), f
                log("VERDICT", json.dumps(f))


async def serial(exe, workdir, paths):
    """Checks `paths` in one call on a server that uploads one at a time."""
    server = account_server(exe, workdir, "serial", ["--max-concurrency", "1"])
    with open(server.log_path, "w") as errlog:
        async with stdio_client(server.params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                result = await call(
                    session, "check_media", {"paths": paths, "wait_seconds": 60}
                )
                for f in result.structured_content["files"]:
                    assert f["verdict"] in ("fake", "real"), f
                log("VERDICTS", len(result.structured_content["files"]))


async def main():
    scenario, exe, workdir = sys.argv[1:4]
    if scenario == "full":
        await full(exe, workdir)
    elif scenario == "start":
        await start(exe, workdir, sys.argv[4])
    elif scenario == "serial":
        await serial(exe, workdir, sys.argv[4:])
    elif scenario == "finish":
        await finish(exe, workdir, sys.argv[4])
    else:
        raise SystemExit(f"unknown scenario {scenario}")
    log("ok")


asyncio.run(main())
