"""Braze's own MCP server (PyPI braze-mcp-server) reading a send's analytics from sendid.

Spawns the server over stdio with BRAZE_BASE_URL and BRAZE_API_KEY pointing at sendid, drives it
with the `mcp` client library, and calls its tool `call_function` with `get_send_data_series`.
The server validates the answer with its pydantic model `SendDataSeriesResponse` and returns
that model (as {"data", "schema": {"model_name"}}); when the model does not accept sendid's
answer it falls back to the raw dictionary, which this script counts as a failure.

Run by tests/mcp_client.rs; by hand (a venv with requirements.txt installed):

    SENDID_BASE_URL=http://127.0.0.1:8080 SENDID_API_KEY=... SENDID_TODAY=2026-12-01 \
    SENDID_SENDS='[{"campaign_id": "...", "send_id": "...", "channel": "email",
                    "sent": 3, "unique_recipients": 2}]' python check_data_series.py

The key needs `sends.data_series`. Each entry of SENDID_SENDS is a send ID of a campaign whose
channel is `channel`, dispatched on SENDID_TODAY (the server's UTC day) to `sent` recipients,
`unique_recipients` of them distinct; the first entry is also used for the window and refusal
checks. Prints one line per check, then `N passed, N failed`; exits 1 on any failure, 2 on a
missing setting.
"""

import asyncio
import datetime
import json
import os
import sys
import traceback

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        print(f"{name} is not set (see the top of {os.path.basename(__file__)})", file=sys.stderr)
        sys.exit(2)
    return value


BASE_URL = env("SENDID_BASE_URL")
API_KEY = env("SENDID_API_KEY")
SENDS = json.loads(env("SENDID_SENDS"))
# The server's UTC day (a test's server may run on a clock of its own).
TODAY = datetime.date.fromisoformat(env("SENDID_TODAY"))

passed = 0
failed = 0


async def check(name, body):
    global passed, failed
    try:
        await body()
        passed += 1
        print(f"ok   {name}", flush=True)
    except Exception:  # noqa: BLE001 - every failure is reported, then counted
        failed += 1
        print(f"FAIL {name}: {traceback.format_exc()}", flush=True)


def tool_result(result) -> dict:
    """The tool's return value, from the structured content or the text block."""
    assert not result.isError, f"the tool call failed: {result.content}"
    structured = result.structuredContent
    if structured is not None:
        # FastMCP wraps a return value that is not an object schema in {"result": ...}.
        return structured.get("result", structured) if len(structured) == 1 else structured
    texts = [block.text for block in result.content if getattr(block, "type", "") == "text"]
    assert texts, f"no text content in {result.content}"
    return json.loads(texts[0])


async def main() -> None:
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "braze_mcp.main"],
        env={
            "BRAZE_BASE_URL": BASE_URL,
            "BRAZE_API_KEY": API_KEY,
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/tmp"),
        },
    )
    async with stdio_client(server) as (read, write), ClientSession(read, write) as session:
        await session.initialize()

        async def series(parameters: dict) -> dict:
            result = await session.call_tool(
                "call_function",
                {"function_name": "get_send_data_series", "parameters": parameters},
            )
            return tool_result(result)

        async def lists_the_function():
            tools = {tool.name for tool in (await session.list_tools()).tools}
            assert "call_function" in tools, f"tools: {sorted(tools)}"
            listed = tool_result(await session.call_tool("list_functions", {}))
            assert "get_send_data_series" in listed["available_functions"], listed

        def parsed_by_its_model(send: dict):
            async def body():
                length = 7
                channel = send["channel"]
                out = await series(
                    {"campaign_id": send["campaign_id"], "send_id": send["send_id"], "length": length}
                )
                schema = out.get("schema")
                assert schema is not None, (
                    "the server fell back to the raw dictionary: its SendDataSeriesResponse "
                    f"model did not accept sendid's answer: {json.dumps(out)[:2000]}"
                )
                assert schema["model_name"] == "SendDataSeriesResponse", schema["model_name"]
                data = out["data"]
                assert data["message"] == "success", data
                days = data["data"]
                assert len(days) == length, f"{len(days)} entries for length {length}"
                times = [day["time"] for day in days]
                assert times == sorted(times), f"not oldest first: {times}"
                today = TODAY.isoformat()
                assert times[-1] == today, f"the last entry is {times[-1]}, today is {today}"
                last = days[-1]
                stats = last["messages"].get(channel)
                assert isinstance(stats, list) and stats, f"messages.{channel}: {last['messages']}"
                # in_app_message has no `sent` in Braze's shape; every other channel has.
                if channel != "in_app_message":
                    assert stats[0]["sent"] == send["sent"], f"{channel}: {stats[0]}"
                assert last["unique_recipients"] == send["unique_recipients"], last
                for day in days[:-1]:
                    assert day["unique_recipients"] == 0, f"recipients before today: {day}"

            return body

        first = SENDS[0]
        CAMPAIGN_ID, SEND_ID, CHANNEL = first["campaign_id"], first["send_id"], first["channel"]

        async def ending_at_moves_the_window():
            yesterday = datetime.datetime.combine(
                TODAY - datetime.timedelta(days=1), datetime.time(12), datetime.timezone.utc
            )
            out = await series(
                {
                    "campaign_id": CAMPAIGN_ID,
                    "send_id": SEND_ID,
                    "length": 2,
                    "ending_at": yesterday.strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
            )
            assert out.get("schema", {}).get("model_name") == "SendDataSeriesResponse", out
            days = out["data"]["data"]
            assert [d["time"] for d in days][-1] == yesterday.date().isoformat(), days
            assert all(d["unique_recipients"] == 0 for d in days), days

        async def refusal_reaches_the_agent():
            out = await series(
                {"campaign_id": CAMPAIGN_ID, "send_id": SEND_ID + "-never-created", "length": 1}
            )
            assert "schema" not in out, f"a refusal parsed as data: {out}"
            details = out["error"]["details"]
            assert details["http_status"] == 400, details
            assert isinstance(details["response_body"]["message"], str), details

        await check("the server offers get_send_data_series", lists_the_function)
        for send in SENDS:
            await check(
                f"its SendDataSeriesResponse model accepts sendid's answer ({send['channel']})",
                parsed_by_its_model(send),
            )
        await check("ending_at ends the series on that day", ending_at_moves_the_window)
        await check("a send ID never created is an HTTP 400 it passes on", refusal_reaches_the_agent)

    print(f"{passed} passed, {failed} failed", flush=True)
    sys.exit(0 if failed == 0 else 1)


if __name__ == "__main__":
    asyncio.run(main())
