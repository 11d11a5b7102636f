"""inspect-ai's mock model for tests that write real Inspect logs, with no network.

The mock model counts tokens with tiktoken unless an output carries its own usage, and
tiktoken downloads its encodings; every output made here carries usage, so nothing is fetched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def with_usage(output: Any) -> Any:
    from inspect_ai.model import ModelUsage

    output.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
    return output


def mock_model(reply: Callable[[list[Any], list[Any]], Any] | None = None) -> Any:
    """``mockllm/model`` answering each generate with ``reply(messages, tools)`` (a
    ``ModelOutput``) or, by default, the text ``done``."""
    from inspect_ai.model import ModelOutput, get_model

    def respond(messages: list[Any], tools: list[Any], tool_choice: Any, config: Any) -> Any:
        output = (
            reply(messages, tools)
            if reply is not None
            else ModelOutput.from_content(model="mockllm", content="done")
        )
        return with_usage(output)

    return get_model("mockllm/model", custom_outputs=respond)
