"""Fixtures shared by the client tests.

Most tests use the cluster `scripts/with_cluster.sh` starts (PGHOST, PGPORT, PGDATABASE
set). A test that stops, crashes or restarts its server, or needs an unusual one, gets a
cluster of its own instead, so no result depends on the order the tests run in:
`own_cluster(port, ...)` starts one (database hnsw_pg_demo with the extension), points
PGPORT, PGDATABASE and HNSW_PG_CLUSTER_DIR at it while it runs, and removes it after.
A module that sets CLUSTER_PORT and uses the `restartable_cluster` fixture runs all its
tests on one such cluster."""

import contextlib
import os
import subprocess

import psycopg
import pytest

ENV_KEYS = ("PGPORT", "PGDATABASE", "HNSW_PG_CLUSTER_DIR")


def cluster_script(*args, env=None):
    subprocess.run(["bash", "scripts/pgcluster.sh", *args], check=True,
                   env={**os.environ, **(env or {})})


@contextlib.contextmanager
def own_cluster(port, ulimit_v=None, server_env=None, options=None, point_env=True):
    """A throwaway cluster on `port`; `ulimit_v` (kB), `server_env` (NAME=VALUE words)
    and `options` (server options) as scripts/pgcluster.sh takes them. With `point_env`
    false the environment keeps naming the shared cluster: only callers that use the
    connection parameters it yields reach this one."""
    directory = f"/tmp/hnsw_pg-cluster-{port}"
    env = {"PGCLUSTER_ULIMIT_V": ulimit_v, "PGCLUSTER_ENV": server_env, "PGCLUSTER_OPTS": options}
    cluster_script("stop", directory)
    cluster_script("start", directory, str(port), env={k: v for k, v in env.items() if v})
    saved = {k: os.environ.get(k) for k in ENV_KEYS}
    try:
        with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                             autocommit=True) as c:
            c.execute("CREATE DATABASE hnsw_pg_demo")
        with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="hnsw_pg_demo",
                             autocommit=True) as c:
            c.execute("CREATE EXTENSION hnsw_pg")
        if point_env:
            os.environ.update(PGPORT=str(port), PGDATABASE="hnsw_pg_demo", HNSW_PG_CLUSTER_DIR=directory)
        yield dict(host="127.0.0.1", port=port, user="postgres", dbname="hnsw_pg_demo", autocommit=True)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        cluster_script("stop", directory)


@pytest.fixture(scope="module")
def restartable_cluster(request):
    with own_cluster(request.module.CLUSTER_PORT) as params:
        yield params
