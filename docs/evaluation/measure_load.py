"""Throwaway: live /v1/ask latency with and without a service evaluation running (issue: overview).

python /tmp/evalload/measure.py [--clients 1] [--asks 300]
"""
from __future__ import annotations

import argparse, json, os, shutil, socket, statistics, subprocess, sys, tempfile, threading, time
from pathlib import Path

import httpx

ROOT = Path("/work/main")
PY = str(ROOT / ".venv/bin/python")
KEY = "measure-key"
ADMIN = {"Authorization": f"Bearer {KEY}"}
UNIT = "bo-tttt"
PATCHES = {
    "naive": "import app.service.evaluation_jobs as j; j.QUIET_WAIT_S = 0.0; j._lower_priority = lambda: None; ",
    "in-flight": "import app.service.evaluation_jobs as j; j.LULL_S = 0.0; ",
    "": "",
    "no-nice": "import app.service.evaluation_jobs as j; j._lower_priority = lambda: None; ",
    "timed": (
        "import time, app.service.evaluation_jobs as j; _ask = j.InProcess.ask\n"
        "def ask(self, *a):\n"
        "    t = time.perf_counter(); r = _ask(self, *a)\n"
        "    open('/tmp/evalload/durations.txt', 'a').write(f'{time.monotonic():.3f} {(time.perf_counter() - t) * 1000:.1f}\\n'); return r\n"
        "j.InProcess.ask = ask\n"
    ),
    "wait10": "import app.service.evaluation_jobs as j; j.QUIET_WAIT_S = 10.0; ",
    "omp1": (
        "import ctypes, app.service.evaluation_jobs as j; _low = j._lower_priority\n"
        "def low():\n"
        "    _low(); ctypes.CDLL('libgomp.so.1').omp_set_num_threads(1)\n"
        "j._lower_priority = low\n"
    ),
    "wait-forever": "import app.service.evaluation_jobs as j; j.QUIET_WAIT_S = 1e6; ",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(data: Path, pause: float, naive: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TROLY_")}
    # No query-vector cache: every question is embedded, as the unseen questions of a real set are.
    env.update(TROLY_ADMIN_KEY=KEY, TROLY_ASK_RATE_LIMIT="", TROLY_WRITE_RATE_LIMIT="", TROLY_EVAL_PAUSE_S=str(pause),
               TROLY_QUERY_CACHE_SIZE="0")
    code = PATCHES[naive] + "from app.cli import main; main()"
    proc = subprocess.Popen(
        [PY, "-c", code, "--data-dir", str(data), "serve", "--port", str(port)],
        env=env, cwd=data.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError("server did not start")
        time.sleep(0.3)


RATE = 0.0  # > 0: each client sends at Poisson times of this mean rate (per second) instead of back to back


def load(url: str, questions: list[str], clients: int, asks: int) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        with httpx.Client(base_url=url, timeout=120) as http:
            rng = __import__("random").Random(n)
            next_at = time.monotonic()
            for i in range(asks // clients):
                if RATE:
                    next_at += rng.expovariate(RATE)
                    time.sleep(max(0.0, next_at - time.monotonic()))
                q = questions[(n * 997 + i) % len(questions)]
                t = time.perf_counter()
                r = http.post("/v1/ask", json={"question": q, "unit": UNIT, "top_k": 5})
                ms = (time.perf_counter() - t) * 1000
                assert r.status_code == 200, r.text
                with lock:
                    latencies.append(ms)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=1)
    ap.add_argument("--asks", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rate", type=float, default=0.0, help="open loop: requests per second per client")
    args = ap.parse_args()
    global RATE
    RATE = args.rate
    rows = [json.loads(l) for l in (ROOT / "eval/questions/seed.jsonl").read_text(encoding="utf-8").splitlines()]
    questions = [r["question"] for r in rows]
    # A set long enough to outlast the live window: the seed questions four times over.
    eval_set = [{"id": f"{r['id']}-{k}", "question": r["question"], "answers": r["answers"]} for k in range(4) for r in rows]
    work = Path(tempfile.mkdtemp(prefix="evalload-"))
    base = work / "base"
    subprocess.run([PY, "-m", "app.cli", "--data-dir", str(base), "ingest", str(ROOT / "corpus")], check=True,
                   cwd=ROOT, stdout=subprocess.DEVNULL, env={**{k: v for k, v in os.environ.items() if not k.startswith("TROLY_")}, "TQDM_DISABLE": "1"})
    variants = [
        ("no evaluation", None, ""),
        ("evaluation, as shipped (TROLY_EVAL_PAUSE_S=0.05, lull 0.1 s, nice 10)", 0.05, ""),
        ("evaluation, TROLY_EVAL_PAUSE_S=0.2", 0.2, ""),
        ("evaluation, naive loop: no pause, no lull, no nice", 0.0, "naive"),
    ]
    print(f"clients={args.clients} asks={args.asks} rounds={args.rounds} rate={args.rate or 'back to back'} cores={os.cpu_count()}", flush=True)
    results: dict[str, list[tuple[float, float, float, float]]] = {v[0]: [] for v in variants}
    for round_ in range(args.rounds):
        for n, (name, pause, naive) in enumerate(variants):
            data = work / f"r{round_}-v{n}"
            shutil.copytree(base, data)
            proc, url = start(data, pause if pause is not None else 0.05, naive)
            try:
                with httpx.Client(base_url=url, timeout=120) as http:
                    load(url, questions, 1, 30)  # warm-up
                    job = None
                    if pause is not None:
                        s = http.post(f"/v1/units/{UNIT}/question-sets", json={"name": "load", "questions": eval_set}, headers=ADMIN)
                        assert s.status_code == 201, s.text
                        j = http.post(f"/v1/units/{UNIT}/evaluations", json={"question_set": s.json()["id"]}, headers=ADMIN)
                        assert j.status_code == 202, j.text
                        job = j.json()["id"]
                        time.sleep(1.0)  # let it get going
                        p0, t0 = http.get(f"/v1/evaluations/{job}").json()["progress"], time.monotonic()
                    lat = load(url, questions, args.clients, args.asks)
                    during = alone = float("nan")
                    if job:
                        now = http.get(f"/v1/evaluations/{job}").json()
                        assert now["status"] in ("queued", "running"), "the evaluation ended inside the window"
                        during = (now["progress"] - p0) * len(eval_set) / (time.monotonic() - t0)
                        if "forever" in name:
                            results[name].append((statistics.median(lat), pct(lat, 0.95), during, float("nan")))
                            print(f"  round {round_} {name:<74} p50 {statistics.median(lat):6.1f} p95 {pct(lat, 0.95):6.1f} eval {during:5.1f} q/s", flush=True)
                            continue
                        p1, t1 = now["progress"], time.monotonic()
                        time.sleep(5)
                        alone = (http.get(f"/v1/evaluations/{job}").json()["progress"] - p1) * len(eval_set) / (time.monotonic() - t1)
                results[name].append((statistics.median(lat), pct(lat, 0.95), during, alone))
                print(f"  round {round_} {name:<74} p50 {statistics.median(lat):6.1f} p95 {pct(lat, 0.95):6.1f} eval {during:5.1f} q/s (alone {alone:5.1f})", flush=True)
            finally:
                proc.terminate()
                proc.wait(60)
                shutil.rmtree(data, ignore_errors=True)
    print("medians over rounds:")
    for name, runs in results.items():
        med = [statistics.median(x) for x in zip(*runs)]
        print(f"{name:<74} live p50 {med[0]:6.1f} ms  p95 {med[1]:6.1f} ms  eval {med[2]:5.1f} q/s during, {med[3]:5.1f} q/s alone")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
