"""Redis (TSA_REDIS_URL) as the replicas' shared state: two tsa-api processes
on one SQLite store and one redis-server share the rate-limit count and the
forecast cache; an overwritten or deleted model is never served from the
cache; killing redis-server degrades to no cache and local counters (every
request still answers) and the services recover when it is back."""

import os
import re
import subprocess
import time

from harness import (ApiServer, RedisServer, Skip, api_binary, build_dir, check, eq, expect_error,
                     tail, wait_for)

TRAIN_F = "/api/v1/models/forecasting/train"
READ_LIMIT = 6  # GET requests per minute per client address


def metric(api, name, **labels):
    """The value of one sample in /metrics (0 when absent)."""
    text = api.get("/metrics").body.decode()
    for line in text.splitlines():
        m = re.match(r'^%s\{(.*)\} (\S+)$' % re.escape(name), line)
        if not m:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(1)))
        if all(got.get(k) == v for k, v in labels.items()):
            return float(m.group(2))
    return 0.0


def fresh_window(min_left=20):
    """Waits until the current one-minute rate-limit window has at least
    @min_left seconds to run, so a burst of requests stays inside it."""
    left = 60 - time.time() % 60
    if left < min_left:
        time.sleep(left + 0.2)


def bad_config(tap, workdir):
    def refuses():
        cases = [
            (["--redis-url", "rediss://127.0.0.1:6380/0"], "rediss://"),
            (["--redis-url", "http://127.0.0.1:6379"], "TSA_REDIS_URL"),
            (["--redis-url", "redis://127.0.0.1:99999/0"], "port"),
            (["--redis-url", "redis://127.0.0.1:6379/x"], "database"),
            (["--rate-limit", "often"], "--rate-limit"),
            (["--rate-limit", "search=5"], "unknown route class 'search'"),
            (["--rate-limit", "read=-1"], "read"),
            (["--forecast-cache-ttl", "-5"], "--forecast-cache-ttl"),
        ]
        for args, want in cases:
            r = subprocess.run([api_binary(), "--port", "0", "--store",
                                "sqlite:" + os.path.join(workdir, "bad.db")] + args,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                               timeout=30)
            eq(r.returncode, 2, "exit status with %s" % " ".join(args))
            check(want in r.stderr, "%s: the message does not mention %r" % (" ".join(args), want), r.stderr)

    tap.run("tsa-api refuses a bad TSA_REDIS_URL (rediss:// without TLS support, bad scheme, port, "
            "database) or --rate-limit / --forecast-cache-ttl, naming the option (exit 2)", refuses)


def run(tap, tmp):
    workdir = os.path.join(tmp, "redis")
    os.makedirs(workdir)
    bad_config(tap, workdir)
    redis = RedisServer(os.path.join(workdir, "redis-server"))
    if not tap.run("redis-server starts on a free port", redis.start):
        return
    store = "sqlite:" + os.path.join(workdir, "tsa.db")
    servers = []
    try:
        def start_both():
            for name in ("a", "b"):
                d = os.path.join(workdir, name)
                os.makedirs(d)
                s = ApiServer(d, store, name=name,
                              args=["--workers", "1", "--redis-url", redis.url,
                                    "--rate-limit", "read=%d,compute=100000" % READ_LIMIT])
                servers.append(s)
                s.start()
                if "no Redis support" in open(s.log, encoding="utf-8", errors="replace").read():
                    raise Skip("this build has no hiredis (libhiredis-dev)")
            for s in servers:
                r = s.api.get("/api/v1/health")
                eq(r.status, 200, "health")
                eq(r.json.get("redis"), "ok", "health.redis")
                eq(metric(s.api, "tsa_redis_up"), 1.0, "tsa_redis_up")

        if not tap.run("two tsa-api processes on one store and one Redis: health says redis ok", start_both):
            return
        a, b = servers[0].api, servers[1].api
        series = a.ok("POST", "/api/v1/data/generate", {"n_samples": 160, "seed": 17})["data"]
        history = series[-60:]
        ask = {"model_name": "shared", "data": history, "steps_ahead": 5}
        state = {}

        def cache_shared():
            a.ok("POST", TRAIN_F, {"model_type": "multivariate", "model_name": "shared", "data": series},
                 status=201)
            r1 = a.post("/api/v1/predict", ask)
            eq(r1.status, 200, "first predict")
            eq(r1.header("x-cache"), "MISS", "X-Cache of the first predict")
            r2 = b.post("/api/v1/predict", ask)
            eq(r2.status, 200, "predict on the other replica")
            eq(r2.header("x-cache"), "HIT", "X-Cache on the other replica")
            eq(r2.json, r1.json, "the cached forecast")
            eq(metric(b, "tsa_cache_requests_total", cache="forecast", result="hit"), 1.0, "hits counted by b")
            eq(metric(a, "tsa_cache_requests_total", cache="forecast", result="miss"), 1.0, "misses counted by a")
            # the same input spelled differently (a JSON string, the synonym
            # confidence_level) is the same forecast
            r3 = b.post("/api/v1/predict", {"model_name": "shared", "data": str(history).replace(" ", ""),
                                            "steps_ahead": 5, "confidence_level": 0.95})
            eq(r3.header("x-cache"), "HIT", "X-Cache for an equivalent spelling")
            eq(r3.json["predictions"], r1.json["predictions"], "predictions")
            # another horizon, interval or history is another forecast
            for other in ({"steps_ahead": 6}, {"interval": 0.8}, {"data": history[:-1]}):
                q = dict(ask)
                q.update(other)
                r = b.post("/api/v1/predict", q)
                eq(r.status, 200, "predict with %s" % other)
                eq(r.header("x-cache"), "MISS", "X-Cache with %s" % other)
            # components: false is the default answer; asking for components
            # is another answer, never served from the plain one's entry (a
            # VAR has none: 400 naming the field)
            r = b.post("/api/v1/predict", dict(ask, components=False))
            eq(r.header("x-cache"), "HIT", "X-Cache with components: false")
            r = b.post("/api/v1/predict", dict(ask, components=True))
            expect_error(r, 400, "invalid_field", "components")
            a.ok("POST", TRAIN_F, {"model_type": "ets", "model_name": "shared_ets", "data": series,
                                   "season": "N"}, status=201)
            ets = {"model_name": "shared_ets", "steps_ahead": 4}
            plain = a.post("/api/v1/predict", ets)
            eq(plain.header("x-cache"), "MISS", "X-Cache of the plain ets forecast")
            r = b.post("/api/v1/predict", dict(ets, components=True))
            eq(r.header("x-cache"), "MISS", "X-Cache of the first components request")
            check("components" in r.json and "components" not in plain.json, "components only when asked")
            r2 = a.post("/api/v1/predict", dict(ets, components=True))
            eq(r2.header("x-cache"), "HIT", "X-Cache of the second components request")
            eq(r2.json, r.json, "the cached forecast with components")
            # models fitted on the fly are not cached
            r = a.post("/api/v1/predict", {"model_type": "multivariate", "data": history, "steps_ahead": 3})
            eq(r.status, 200, "on-the-fly predict")
            eq(r.header("x-cache"), None, "X-Cache of an on-the-fly predict")
            state["first"] = r1.json

        tap.run("a forecast computed by one replica is served from Redis by the other: identical numbers, "
                "X-Cache HIT, counted in tsa_cache_requests_total", cache_shared)

        def agent_shares():
            exe = os.path.join(build_dir(), "servers", "forecasting", "tsa-forecasting")
            if not os.access(exe, os.X_OK):
                raise Skip("tsa-forecasting is not built")
            d = os.path.join(workdir, "agent")
            os.makedirs(d)
            agent = ApiServer(d, store, name="forecasting", exe=exe,
                              args=["--redis-url", redis.url, "--rate-limit", "compute=1000"])
            servers.append(agent)
            agent.start()
            agent.api.record = False  # not a REST API exchange (the OpenAPI check)
            a.ok("POST", TRAIN_F, {"model_type": "multivariate", "model_name": "for_agent", "data": series},
                 status=201)
            args = {"model_name": "for_agent", "data": history, "steps_ahead": 3}
            rest = a.post("/api/v1/predict", args)
            eq(rest.header("x-cache"), "MISS", "X-Cache of the REST predict")
            r = agent.api.post("/a2a", {
                "jsonrpc": "2.0", "id": "1", "method": "SendMessage",
                "params": {"message": {"messageId": "m1", "role": "ROLE_USER", "parts": [
                    {"data": {"skill": "predict_forecasting", "arguments": args},
                     "mediaType": "application/json"}]}}}, headers={"A2A-Version": "1.0"})
            eq(r.status, 200, "A2A SendMessage")
            task = r.json["result"]["task"]
            eq(task["status"]["state"], "TASK_STATE_COMPLETED", "task state")
            data = task["artifacts"][0]["parts"][0]["data"]
            eq(data["predictions"], rest.json["predictions"], "the agent's predictions")
            eq(metric(agent.api, "tsa_cache_requests_total", cache="forecast", result="hit"), 1.0,
               "hits counted by the agent")
            h = agent.api.get("/health")
            eq(h.json.get("redis"), "ok", "the agent's health.redis")
            eq(agent.stop(), 0, "the agent's exit status")
            servers.remove(agent)

        tap.run("the forecasting agent's predict_forecasting (A2A) is served the forecast tsa-api cached",
                agent_shares)

        def overwrite_and_delete():
            check("first" in state, "needs the previous test")
            scaled = [[v[0] * 10 + 50] for v in series]
            b.ok("POST", TRAIN_F, {"model_type": "multivariate", "model_name": "shared", "data": scaled,
                                   "overwrite": True}, status=201)
            r = a.post("/api/v1/predict", ask)
            eq(r.status, 200, "predict after the overwrite")
            eq(r.header("x-cache"), "MISS", "X-Cache after the overwrite")
            check(r.json["predictions"] != state["first"]["predictions"],
                  "the overwritten model's forecast came from the cache")
            r2 = b.post("/api/v1/predict", ask)
            eq(r2.header("x-cache"), "HIT", "X-Cache of the new model's forecast on b")
            eq(r2.json, r.json, "the new model's cached forecast")
            a.ok("DELETE", "/api/v1/models/shared")
            expect_error(b.post("/api/v1/predict", ask), 404, "not_found", "model_name")

        tap.run("overwriting a model changes the cache key (fresh numbers); a deleted model is never "
                "served from the cache (404)", overwrite_and_delete)

        def shared_rate_limit():
            fresh_window()
            for i in range(READ_LIMIT - 2):
                eq(a.get("/api/v1/models").status, 200, "read %d on a" % (i + 1))
            for i in range(2):
                eq(b.get("/api/v1/models").status, 200, "read %d on b" % (i + 1))
            r = b.get("/api/v1/models")
            err = expect_error(r, 429, "rate_limited")
            check("per minute" in err["message"], "the message does not say the limit", err)
            retry = r.header("retry-after")
            check(retry is not None and retry.isdigit() and 1 <= int(retry) <= 60,
                  "Retry-After is %r" % retry)
            expect_error(a.get("/api/v1/models"), 429, "rate_limited")
            # other classes and public routes are not limited by it
            eq(b.get("/api/v1/health").status, 200, "health over the read limit")
            eq(b.get("/metrics").status, 200, "metrics over the read limit")
            eq(b.post("/api/v1/data/generate", {"n_samples": 5}).status, 200, "a compute request")
            check(metric(b, "tsa_rate_limited_total", **{"class": "read"}) >= 1, "tsa_rate_limited_total on b")

        tap.run("the rate limit is shared: once replica a used the budget, replica b answers 429 with "
                "Retry-After and the JSON error shape; health, metrics and other classes still pass",
                shared_rate_limit)

        def outage():
            a.ok("POST", TRAIN_F, {"model_type": "multivariate", "model_name": "outage", "data": series},
                 status=201)
            q = {"model_name": "outage", "data": history, "steps_ahead": 4}
            before = a.post("/api/v1/predict", q)
            eq(before.header("x-cache"), "MISS", "X-Cache before the outage")
            redis.kill()
            for api in (a, b, a, b):
                r = api.post("/api/v1/predict", q)
                eq(r.status, 200, "predict while Redis is down")
                eq(r.header("x-cache"), None, "X-Cache while Redis is down")
                eq(r.json["predictions"], before.json["predictions"], "predictions while Redis is down")
            for api in (a, b):
                h = api.get("/api/v1/health")
                eq(h.status, 200, "health while Redis is down")
                eq(h.json["status"], "healthy", "health.status while Redis is down")
                eq(h.json["redis"], "down", "health.redis")
                eq(metric(api, "tsa_redis_up"), 0.0, "tsa_redis_up while down")
                check(metric(api, "tsa_cache_requests_total", cache="forecast", result="unavailable") >= 1,
                      "unavailable lookups are counted")
            # rate limits fall back to each process's own counter
            fresh_window(30)
            codes = [a.get("/api/v1/models").status for _ in range(READ_LIMIT + 1)]
            eq(codes, [200] * READ_LIMIT + [429], "local read counts on a")
            for s in servers:
                text = open(s.log, encoding="utf-8", errors="replace").read()
                eq(text.count('"msg":"redis unavailable'), 1, "%s: 'redis unavailable' log lines" % s.name)

        if not tap.run("redis-server killed mid-run: requests still answer 200 with the same numbers, "
                       "health says redis down, one log line per outage, local rate-limit counters", outage):
            return

        def recovery():
            redis.start()
            for api in (a, b):
                wait_for(lambda: api.get("/api/v1/health").json.get("redis") == "ok", 20,
                         "health.redis to be ok again")
                eq(metric(api, "tsa_redis_up"), 1.0, "tsa_redis_up after recovery")
            q = {"model_name": "outage", "data": history, "steps_ahead": 4}
            r1 = b.post("/api/v1/predict", q)
            eq(r1.header("x-cache"), "MISS", "X-Cache after recovery (a new, empty Redis)")
            r2 = a.post("/api/v1/predict", q)
            eq(r2.header("x-cache"), "HIT", "X-Cache on the other replica after recovery")
            eq(r2.json, r1.json, "the cached forecast after recovery")
            for s in servers:
                text = open(s.log, encoding="utf-8", errors="replace").read()
                check('"msg":"redis available"' in text, "%s logs no recovery" % s.name, tail(s.log))

        tap.run("redis-server back on its port: health says ok again and the shared cache works", recovery)

        def stop():
            for s in servers:
                eq(s.stop(), 0, "%s exit status after SIGTERM" % s.name)

        tap.run("both processes stop cleanly", stop)
    finally:
        for s in servers:
            s.kill()
        redis.kill()
