"""Encryption at rest (TSA_ENCRYPTION_KEY): tsa-api trains and predicts with
a key, the SQLite file holds no plaintext model, job request or result,
a restart with the same key answers the same, a restart with another key
fails predict with a message naming the model (listing still works), a
malformed key stops tsa-api at startup without echoing it, and
`tsa-api --rekey` moves every row to a new key."""

import os
import sqlite3
import subprocess

from harness import ApiServer, api_binary, check, eq, expect_error, wait_for

TRAIN_F = "/api/v1/models/forecasting/train"
KEY1 = "8d2f6a1c0b9e7d5a3c1f2e4d6b8a0c9e7f5d3b1a2c4e6f8091a3b5c7d9e1f2a4"
KEY2 = "q83vEjRWeJASNFZ4kBI0VniQEjRWeJASNFZ4kBI0Vng="  # base64 of 32 bytes
MARK = 7321.125  # a value of the training data, looked for in the raw file


def run(tap, tmp):
    workdir = os.path.join(tmp, "crypt")
    os.makedirs(workdir)
    db = os.path.join(workdir, "tsa.db")
    store = "sqlite:" + db
    st = {}

    def server(env, name):
        return ApiServer(workdir, store, name=name, args=["--workers", "1"], env=env)

    def answers(api):
        p = api.ok("POST", "/api/v1/predict", {"model_name": "enc_var", "steps_ahead": 4})
        return p["predictions"]

    def with_key():
        srv = st["srv"] = server({"TSA_ENCRYPTION_KEY": KEY1}, "api1")
        api = srv.start().api
        data = api.ok("POST", "/api/v1/data/generate", {"n_samples": 300, "seed": 5})["data"]
        data[10] = [MARK]
        api.ok("POST", TRAIN_F, {"model_type": "multivariate", "model_name": "enc_var", "data": data},
               status=201)
        r = api.post(TRAIN_F, {"model_type": "multivariate", "model_name": "enc_async", "data": data,
                               "async": True})
        eq(r.status, 202, "async training (%r)" % r)

        def done():
            j = api.ok("GET", "/api/v1/jobs/" + r.json["job_id"])
            return j if j["status"] not in ("queued", "running") else None
        j = wait_for(done, 60, "the training job")
        eq(j["status"], "completed", "job status (error: %s)" % j.get("error"))
        e = api.ok("POST", "/api/v1/predict/ensemble",
                   {"models": ["enc_var", "enc_async"], "data": data[-100:], "steps_ahead": 3})
        st["result_id"] = e["result_id"]
        st["result"] = api.ok("GET", "/api/v1/results/" + e["result_id"])
        st["answers"] = answers(api)
        log = open(srv.log, encoding="utf-8", errors="replace").read()
        check('"encryption_key_id":"' in log and '"encryption_key_id":"off"' not in log,
              "the key id is not logged at startup", log[-2000:])
        check(KEY1 not in log, "the key is in the log")
        eq(srv.stop(), 0, "exit status")

    if not tap.run("tsa-api with TSA_ENCRYPTION_KEY trains (sync and async), predicts, stores a result",
                   with_key):
        if "srv" in st:
            st["srv"].kill()
        return

    def raw_file():
        con = sqlite3.connect(db)
        try:
            blobs = [bytes(b) for (b,) in con.execute("SELECT blob FROM models")]
            requests = [r for (r,) in con.execute("SELECT request FROM jobs")]
            results = [r for (r,) in con.execute("SELECT request || result FROM results")]
            names = sorted(n for (n,) in con.execute("SELECT name FROM models"))
        finally:
            con.close()
        eq(names, ["enc_async", "enc_var"], "model names (plaintext metadata)")
        check(all(b[:4] == b"TSAE" for b in blobs), "a model file is not encrypted")
        check(b"TSAMODEL" not in b"".join(blobs), "a plaintext model file is in the database")
        check(requests and all(r.startswith("TSAE1:") for r in requests), "a job request is plaintext",
              requests)
        check(results and all(r.startswith("TSAE1:") for r in results), "a result is plaintext")
        check(all(str(MARK) not in r for r in requests + results), "the training data is readable")
        for path in (db, db + "-wal"):
            if os.path.exists(path):
                raw = open(path, "rb").read()
                check(str(MARK).encode() not in raw, "the training data is in " + path)

    tap.run("the SQLite file holds only ciphertext for model files, job requests and results", raw_file)

    def same_key():
        srv = server({"TSA_ENCRYPTION_KEY": KEY1}, "api2")
        api = srv.start().api
        try:
            eq(answers(api), st["answers"], "predictions after a restart with the same key")
            eq(api.ok("GET", "/api/v1/results/" + st["result_id"]), st["result"], "stored result")
        finally:
            eq(srv.stop(), 0, "exit status")

    tap.run("restarted with the same key: same predictions, the result reads back", same_key)

    def other_key():
        srv = server({"TSA_ENCRYPTION_KEY": KEY2}, "api3")
        api = srv.start().api
        try:
            r = api.post("/api/v1/predict", {"model_name": "enc_var", "steps_ahead": 4})
            err = expect_error(r, 500, contains="key does not match")
            check("enc_var" in err["message"], "the message does not name the model", err)
            check(KEY2 not in err["message"] and KEY1 not in err["message"], "a key in the message")
            listed = api.ok("GET", "/api/v1/models")
            eq(sorted(m["model_name"] for m in listed["models"]), ["enc_async", "enc_var"], "listed models")
            # The model's details come from the loaded model file: same error.
            expect_error(api.get("/api/v1/models/enc_var"), 500, contains="key does not match")
            results = api.ok("GET", "/api/v1/results")
            check(st["result_id"] in [x["result_id"] for x in results["results"]], "result not listed")
            expect_error(api.get("/api/v1/results/" + st["result_id"]), 500, contains="key does not match")
            api.ok("GET", "/api/v1/jobs")
            # A new model under this key works next to the unreadable ones.
            data = api.ok("POST", "/api/v1/data/generate", {"n_samples": 200, "seed": 6})["data"]
            api.ok("POST", TRAIN_F, {"model_type": "multivariate", "model_name": "enc_new", "data": data},
                   status=201)
            api.ok("POST", "/api/v1/predict", {"model_name": "enc_new", "steps_ahead": 2})
            api.ok("GET", "/health")
        finally:
            eq(srv.stop(), 0, "exit status")

    tap.run("restarted with another key: predict -> 500 naming the model and the key mismatch; "
            "listing, metadata and new models still work", other_key)

    def bad_key():
        env = dict(os.environ, TSA_ENCRYPTION_KEY="not-a-key-0123")
        p = subprocess.run([api_binary(), "--port", "0", "--store", store], cwd=workdir, env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        check(p.returncode != 0, "tsa-api started with a malformed key")
        check("TSA_ENCRYPTION_KEY" in p.stderr, "the message does not name the variable", p.stderr)
        check("not-a-key-0123" not in p.stderr + p.stdout, "the key is echoed", p.stderr)

    tap.run("a malformed TSA_ENCRYPTION_KEY stops tsa-api at startup, naming the variable", bad_key)

    def rekey():
        env = dict(os.environ, TSA_ENCRYPTION_KEY=KEY2, TSA_ENCRYPTION_KEY_PREVIOUS=KEY1)
        p = subprocess.run([api_binary(), "--rekey", "--store", store], cwd=workdir, env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        eq(p.returncode, 0, "--rekey exit status (%s)" % p.stderr.strip())
        check("2 models, 1 job requests, 1 results" in p.stdout, "counts", p.stdout)
        srv = server({"TSA_ENCRYPTION_KEY": KEY2}, "api4")
        api = srv.start().api
        try:
            eq(answers(api), st["answers"], "predictions under the new key")
            eq(api.ok("GET", "/api/v1/results/" + st["result_id"]), st["result"], "stored result")
        finally:
            eq(srv.stop(), 0, "exit status")
        # The old key alone no longer reads anything.
        env = dict(os.environ, TSA_ENCRYPTION_KEY=KEY1)
        env.pop("TSA_ENCRYPTION_KEY_PREVIOUS", None)
        p = subprocess.run([api_binary(), "--rekey", "--store", store], cwd=workdir, env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        check(p.returncode != 0 and "key does not match" in p.stderr,
              "rekey under a key that reads nothing", p.stderr)

    tap.run("tsa-api --rekey with the old key in TSA_ENCRYPTION_KEY_PREVIOUS moves every row to "
            "the new key", rekey)
