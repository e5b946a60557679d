"""`troly serve` with one knob the CLI does not have: the size of the thread pool for sync routes.

FastAPI runs sync routes in anyio's default thread pool (40 threads). With 32 clients that
is 32 questions embedded at once on two cores; this launcher caps it to measure whether
queueing requests instead of time-slicing them helps. Otherwise it is `troly serve`:
the same app factory, the same assistant, uvicorn at log level info.

    python -m app.bench.server --data-dir DIR --port PORT --threadpool 2
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app.bench.server")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threadpool", type=int, required=True)
    args = parser.parse_args(argv)

    import anyio.to_thread
    import uvicorn

    from app.application import create_app
    from app.settings import Settings
    from app.wiring import open_assistant

    settings = Settings(data_dir=args.data_dir)
    app = create_app(settings, open_assistant(settings))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="info"))

    async def run() -> None:
        anyio.to_thread.current_default_thread_limiter().total_tokens = args.threadpool
        await server.serve()

    asyncio.run(run())


if __name__ == "__main__":
    main()
